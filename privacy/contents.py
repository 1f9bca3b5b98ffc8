"""What a member's copy of their data holds: each file of the ZIP, the tables it reads and how
a row is tied to the person, and every column referring to a person that is deliberately left
out, with the reason. tests/privacy/test_export.py checks this against Tortoise's models, so a
new table about people is either exported or named here."""

from __future__ import annotations

from dataclasses import dataclass, field

# Columns never written to a copy, whatever table they are in: secrets or their digests, and
# keys that only make a write happen once.
SECRETS = frozenset(
    {
        "password_hash",
        "admin_flag",
        "token_hash",
        "key_hash",
        "code_hash",
        "address_hash",
        "client_secret",
        "dedupe_key",
        "active_key",
        "open_key",
        "once_key",
    }
)


@dataclass(frozen=True)
class Child:
    """Rows that belong to each row of a Source (an order's items), nested under `key`."""

    model: str  # "store.OrderItem"
    parent_column: str  # its column holding the parent's id
    key: str
    drop: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Source:
    """One table's rows about the person: those whose `column` is their id."""

    model: str  # "app.Model", as Tortoise names it
    column: str  # "user_id", "author_id"...
    key: str  # the list's name inside its file
    drop: frozenset[str] = frozenset()  # columns left out (besides SECRETS)
    children: tuple[Child, ...] = ()


@dataclass(frozen=True)
class Part:
    """One JSON file of the ZIP."""

    file: str
    zh: str  # what README.txt says it holds, Chinese first
    en: str
    sources: tuple[Source, ...] = field(default_factory=tuple)


_OTHERS = frozenset({"referrer_id", "referred_id"})  # another person's id: not theirs to read

PARTS: tuple[Part, ...] = (
    Part(
        "account.json",
        "账户：邮箱、注册时间、语言、会员有效期、同意的条款版本",
        "Your account: email, when it was made, language, membership end, the versions of the "
        "terms you agreed to",
    ),
    Part(
        "profile.json",
        "个人资料：昵称、简介、头像版本、IP属地",
        "Your profile: name, bio, avatar version, IP region",
    ),
    Part(
        "sign_in_methods.json",
        "登录方式：手机号、微信（不含任何密钥）",
        "Ways to sign in: phone numbers, WeChat (no secret of any kind)",
        (
            Source("accounts.Identity", "user_id", "identities"),
            Source("accounts.WechatOpenid", "user_id", "wechat_openids"),
        ),
    ),
    Part(
        "sessions.json",
        "登录会话与 API 令牌（不含令牌本身或其摘要）",
        "Sessions and API tokens (neither the tokens nor their digests)",
        (
            Source("accounts.Session", "user_id", "sessions", frozenset({"data"})),
            Source("accounts.ApiToken", "user_id", "api_tokens"),
        ),
    ),
    Part(
        "consents.json",
        "同意记录（何时、何处、所见文字）与通知方式的选择",
        "Consents (when, where, the words shown) and how you chose to be told",
        (
            Source("accounts.Consent", "user_id", "consents"),
            Source("accounts.NoticeChoice", "user_id", "notice_choices"),
        ),
    ),
    Part(
        "membership.json",
        "会员记录：报名、开通与赠送、会员卡、候补、开放提醒",
        "Membership: enrollments, grants, the card, waitlist places, window reminders",
        (
            Source("membership.Enrollment", "user_id", "enrollments"),
            Source("membership.MembershipGrant", "user_id", "grants", frozenset({"granted_by_id"})),
            Source("membership.Member", "user_id", "card"),
            Source("membership.WaitlistEntry", "user_id", "waitlist"),
            Source("membership.WindowReminder", "user_id", "window_reminders"),
        ),
    ),
    Part(
        "orders.json",
        "订单：商品、收货地址、物流、发票申请、退款申请、常用地址、抽签与开售提醒",
        "Orders: items, shipping addresses, delivery, invoice requests, refund requests, saved "
        "addresses, raffle entries and drop reminders",
        (
            Source(
                "store.Order",
                "user_id",
                "orders",
                children=(
                    Child("store.OrderItem", "order_id", "items"),
                    Child("store.OrderEvent", "order_id", "events"),
                    Child(
                        "store.RefundRequest",
                        "order_id",
                        "refund_requests",
                        frozenset({"decided_by_id"}),
                    ),
                ),
            ),
            Source("store.InvoiceRequest", "user_id", "invoice_requests", frozenset({"pdf_name"})),
            Source("store.SavedAddress", "user_id", "saved_addresses", frozenset({"key"})),
            Source("store.RaffleEntry", "user_id", "raffle_entries"),
            Source("store.DropReminder", "user_id", "drop_reminders"),
            Source("store.Allowance", "user_id", "allowances"),
        ),
    ),
    Part(
        "payments.json",
        "支付与退款（我们从不保存银行卡信息；不含支付机构的密钥）",
        "Payments and refunds (we never hold card details; no provider secrets)",
        (
            Source(
                "payments.Payment",
                "user_id",
                "payments",
                frozenset({"action_url", "action_help_url", "in_flight_until"}),
                (Child("payments.Refund", "payment_id", "refunds"),),
            ),
        ),
    ),
    Part(
        "posts.json",
        "社区帖子（含修改前的版本）",
        "Board posts, with the versions before each edit",
        (
            Source(
                "community.Post",
                "author_id",
                "posts",
                children=(Child("community.PostRevision", "post_id", "revisions"),),
            ),
        ),
    ),
    Part(
        "replies.json",
        "回复",
        "Replies",
        (Source("community.Reply", "author_id", "replies"),),
    ),
    Part(
        "likes.json",
        "点赞的帖子",
        "Posts you liked",
        (Source("community.PostLike", "user_id", "likes"),),
    ),
    Part(
        "notices.json",
        "站内通知",
        "Notices in your inbox",
        (Source("accounts.Notification", "user_id", "notices"),),
    ),
    Part(
        "conversations.json",
        "与客服的对话（你和客服的每条消息）",
        "Conversations with customer service (every message, yours and ours)",
        (
            Source(
                "support.Conversation",
                "user_id",
                "conversations",
                children=(
                    Child(
                        "support.Message", "conversation_id", "messages", frozenset({"author_id"})
                    ),
                ),
            ),
        ),
    ),
    Part(
        "referrals.json",
        "分享与奖励：分享链接、推荐记录、奖励流水、提现",
        "Referrals and rewards: share links, referrals, the ledger, payouts",
        (
            Source("referrals.ShareLink", "sharer_id", "share_links"),
            # Whom they referred is the other person's: not the sign-up's account id, not
            # the order or payment of theirs (subject_id, payment_id); the kind, the date
            # and the amount it was worth stay (the reward itself is in the ledger).
            Source(
                "referrals.Referral",
                "referrer_id",
                "referrals_made",
                _OTHERS | {"subject_id", "payment_id"},
            ),
            Source("referrals.Referral", "referred_id", "referred_by", _OTHERS),
            Source("referrals.Touch", "user_id", "current_referrer", _OTHERS),
            # payment_id: the referred buyer's payment, theirs.
            Source("referrals.LedgerEntry", "referrer_id", "ledger", frozenset({"payment_id"})),
            Source("referrals.Payout", "referrer_id", "payouts", frozenset({"decided_by_id"})),
        ),
    ),
    Part(
        "reports.json",
        "你提交的举报",
        "Reports you made",
        (
            Source("moderation.Report", "reporter_id", "reports", frozenset({"decided_by_id"})),
            Source("community.PostReport", "reporter_id", "post_reports"),
        ),
    ),
    Part(
        "about_you.json",
        "我们记下的关于你的其他信息：客服备注与标签、社区禁言、内容审核、活跃记录、收到的群发",
        "What else we noted about you: staff notes and tags, board bans, content review, "
        "activity counts, broadcasts you received",
        (
            Source("crm.PersonNote", "user_id", "staff_notes", frozenset({"author_id"})),
            Source("crm.PersonTag", "user_id", "tags", frozenset({"added_by_id"})),
            Source("community.BoardBan", "user_id", "board_bans"),
            Source("moderation.ReviewItem", "author_id", "reviews", frozenset({"decided_by_id"})),
            Source("accounts.Activity", "user_id", "activity"),
            Source("crm.BroadcastRecipient", "user_id", "broadcasts_received"),
        ),
    ),
)

# Columns referring to a person that no part exports, each with the reason: what a staff
# member did as staff, one-time secrets, counters, and other people's records.
LEFT_OUT: dict[tuple[str, str], str] = {
    ("accounts.AuditEntry", "actor_id"): "the staff's log of their own actions (kept by ids)",
    ("accounts.LegalDocument", "published_by_id"): "documents a staff member published",
    ("accounts.LoginCode", "user_id"): "one-time sign-in codes: digests that live minutes",
    ("accounts.PasswordReset", "user_id"): "one-time reset links: digests that live an hour",
    ("moderation.WatchedWord", "created_by_id"): "a moderator's work as staff",
    ("moderation.Report", "decided_by_id"): "the moderator who decided (the outcome is exported)",
    ("moderation.ReviewItem", "decided_by_id"): "the moderator who decided",
    ("membership.MembershipGrant", "granted_by_id"): "the staff member who granted it",
    ("store.RefundRequest", "decided_by_id"): "the staff member who decided",
    ("community.FeedItem", "author_id"): "the editors' daily feed, written as staff",
    ("community.PodcastFeed", "user_id"): "the version of a private feed address: a secret",
    ("crm.PersonNote", "author_id"): "the staff member who wrote a note (the note is exported)",
    ("crm.PersonTag", "added_by_id"): "the staff member who tagged (the tag is exported)",
    ("crm.Broadcast", "created_by_id"): "a broadcast a staff member wrote",
    ("crm.Segment", "created_by_id"): "an audience a staff member defined",
    ("crm.DailyReach", "user_id"): "a broadcast's daily counter, deleted after two days",
    ("keywords.AutoReply", "created_by_id"): "an admin's auto-reply, written as staff",
    ("referrals.RewardRule", "created_by_id"): "an admin's reward rule",
    ("referrals.Payout", "decided_by_id"): "the admin who decided",
    ("referrals.Touch", "referrer_id"): "another person's referrer (counted in referrals made)",
    ("support.Message", "author_id"): "in conversations.json through its conversation",
    ("privacy.DataExport", "user_id"): "the copies themselves",
}
