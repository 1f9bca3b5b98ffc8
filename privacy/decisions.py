"""What erasing a departed person (privacy.erasure) does to each table, as a table to read:
the fate of their own rows, and where others' text that names them is scrubbed."""

from __future__ import annotations

from enum import StrEnum

from accounts.models import AuditEntry, Notification, OutboxMessage
from community.board import services as board
from community.board.models import Post, PostReport, PostRevision, Reply
from crm.models import Broadcast, PersonNote, Segment
from keywords.models import KeywordMiss
from moderation.models import Report, ReviewItem
from privacy import scrub
from store.models import OrderEvent, RefundRequest
from support.models import Message


class Fate(StrEnum):
    """What the erasure does to a table's rows about the departed person."""

    KEEP = "keep"  # nothing personal in it (ids, amounts, counts, times): kept as it is
    DETACH = "detach"  # kept, its personal fields emptied; it points at the emptied account
    EMPTY = "empty"  # the account itself: the row stays, every personal field emptied
    DELETE = "delete"  # their rows deleted (and the files they name)


# What the erasure does, table by table: to the departed person's own rows (the Fate), and
# whether others' rows that name them (their name, email, phone...) have those values
# replaced by "已注销用户" (scrubbed: SCRUBBED below). Every table of every model is here
# (tests/privacy/test_erasure.py); orders and payments are kept, detached, for
# settings.order_retention_years and then deleted (privacy.retention).
#   table                          fate    scrubbed  why
DECISIONS: dict[str, tuple[Fate, bool, str]] = {
    # accounts
    "accounts_user": (Fate.EMPTY, False, "the row stays: orders, payments, posts point at it"),
    "accounts_audit": (Fate.KEEP, True, "ids kept; names, emails, phones in before/after replaced"),
    "accounts_session": (Fate.DELETE, False, "sign-ins end"),
    "accounts_api_token": (Fate.DELETE, False, "sign-ins end"),
    "accounts_notification": (Fate.DELETE, True, "their inbox; others' notices naming them"),
    "accounts_outbox": (Fate.DELETE, True, "mail to their address, in any state"),
    "accounts_password_reset": (Fate.DELETE, False, "a way in"),
    "accounts_notice_choice": (Fate.DELETE, False, "their choices"),
    "accounts_login_code": (Fate.DELETE, False, "a way in"),
    "accounts_mail_request": (Fate.DELETE, False, "mail asked for their address"),
    "accounts_activity": (Fate.DELETE, False, "what they read, day by day (days rolled up stay)"),
    "accounts_consent": (Fate.KEEP, False, "what was agreed, when: no personal field"),
    "accounts_legal_document": (Fate.KEEP, False, "published by staff: an id"),
    "accounts_identity": (Fate.DELETE, False, "WeChat unionid, phone number, nickname"),
    "accounts_wechat_openid": (Fate.DELETE, False, "WeChat openids"),
    "accounts_phone_code": (Fate.DELETE, False, "codes sent to their number"),
    "accounts_phone_address": (Fate.DELETE, False, "places their number signed in from"),
    "accounts_sms_day": (Fate.KEEP, False, "a day's count"),
    "accounts_wechat_credential": (Fate.KEEP, False, "the site's token"),
    # payments
    "payments_payment": (Fate.DETACH, False, "amounts, provider ids, times kept (art. 31)"),
    "payments_webhook_event": (Fate.KEEP, False, "event ids"),
    "payments_refund": (Fate.KEEP, False, "amounts"),
    # membership
    "membership_window": (Fate.KEEP, False, "the product"),
    "membership_seat": (Fate.KEEP, False, "ids: a seat taken stays taken"),
    "membership_enrollment": (Fate.KEEP, False, "a purchase: amounts and times"),
    "membership_window_reminder": (Fate.DELETE, False, "their wish to be told"),
    "membership_waitlist": (Fate.DELETE, False, "their place in a queue"),
    "membership_member": (Fate.DELETE, False, "their card"),
    "membership_grant": (Fate.KEEP, False, "the time a payment bought: days and dates"),
    "membership_window_minute": (Fate.KEEP, False, "counts"),
    # store
    "store_category": (Fate.KEEP, False, "the catalogue"),
    "store_product": (Fate.KEEP, False, "the catalogue"),
    "store_unit": (Fate.KEEP, False, "ids: a unit sold stays sold"),
    "store_allowance": (Fate.DELETE, False, "their per-customer counts"),
    "store_order": (Fate.DETACH, False, "totals, dates kept; recipient, address emptied"),
    "store_order_item": (Fate.KEEP, False, "products, quantities, prices"),
    "store_order_event": (Fate.DETACH, True, "statuses and times kept; notes emptied"),
    "store_drop_reminder": (Fate.DELETE, False, "their wish to be told"),
    "store_raffle_entry": (Fate.DELETE, False, "undrawn entries (a drawn raffle's stay: ids)"),
    "store_refund_request": (Fate.DETACH, True, "the decision kept; their reason emptied"),
    "store_invoice_request": (Fate.DETACH, False, "title, tax id, email emptied, PDF deleted"),
    "store_saved_address": (Fate.DELETE, False, "their addresses"),
    "store_product_day": (Fate.KEEP, False, "counts"),
    "store_product_minute": (Fate.KEEP, False, "counts"),
    # community
    "community_search_term": (Fate.KEEP, False, "posts scrubbed are indexed again"),
    "community_feed_item": (Fate.KEEP, False, "the staff's articles: an author id"),
    "community_podcast_feed": (Fate.DELETE, False, "their private feed"),
    "community_feed_item_day": (Fate.KEEP, False, "counts"),
    "community_board_category": (Fate.KEEP, False, "the board"),
    "community_board_settings": (Fate.KEEP, False, "the board"),
    "community_post": (Fate.DETACH, True, "stays, by 已注销用户; IP属地 emptied"),
    "community_post_revision": (Fate.KEEP, True, "a post's history"),
    "community_reply": (Fate.DETACH, True, "stays, by 已注销用户; IP属地 emptied"),
    "community_post_like": (Fate.KEEP, False, "ids: like counts stay true"),
    "community_post_report": (Fate.DETACH, True, "their reasons emptied"),
    "community_board_ban": (Fate.DELETE, False, "about them"),
    # moderation
    "moderation_watched_word": (Fate.KEEP, False, "the staff's words"),
    "moderation_words_version": (Fate.KEEP, False, "a number"),
    "moderation_review_item": (Fate.DELETE, True, "items of their profile, avatar, messages"),
    "moderation_report": (Fate.DETACH, True, "their reasons emptied; others' about them scrubbed"),
    # support
    "support_conversation": (Fate.DELETE, False, "their conversations"),
    "support_message": (Fate.DELETE, True, "their conversations' messages and pictures"),
    # crm
    "crm_note": (Fate.DELETE, True, "notes about them"),
    "crm_tag": (Fate.KEEP, False, "labels"),
    "crm_person_tag": (Fate.DELETE, False, "labels on them"),
    "crm_segment": (Fate.KEEP, True, "a filter naming them is scrubbed"),
    "crm_broadcast": (Fate.KEEP, True, "the staff's message"),
    "crm_broadcast_recipient": (Fate.DELETE, False, "what reached them, what they clicked"),
    "crm_daily_reach": (Fate.DELETE, False, "what reached them"),
    # keywords
    "keywords_auto_reply": (Fate.KEEP, False, "the staff's rules"),
    "keywords_auto_reply_keyword": (Fate.KEEP, False, "the staff's rules"),
    "keywords_auto_reply_answer": (Fate.KEEP, False, "the staff's rules"),
    "keywords_miss": (Fate.KEEP, True, "words typed, by nobody named"),
    # referrals
    "referrals_reward_rule": (Fate.KEEP, False, "the staff's rules"),
    "referrals_ledger_entry": (Fate.KEEP, False, "money, append-only: detached with the account"),
    "referrals_payout": (Fate.KEEP, False, "money: detached with the account"),
    "referrals_share_link": (Fate.DETACH, False, "kept (referrals point at it), its code retired"),
    "referrals_link_day": (Fate.DELETE, False, "their links' visits"),
    "referrals_touch": (Fate.DELETE, False, "who brought them, and whom they bring from now"),
    "referrals_referral": (Fate.KEEP, False, "a purchase referred: ids and amounts (ledgers')"),
    # the rest
    "jobs_run": (Fate.KEEP, False, "job times"),
    "stats_day": (Fate.KEEP, False, "counts"),
    "stats_expiry_month": (Fate.KEEP, False, "counts"),
    "privacy_export": (Fate.DELETE, False, "their copies, and the files"),
}  # fmt: skip

# Where others' text may name a departed person (privacy.scrub): identifiers (email, phone,
# tax id, street address, WeChat ids) in every column listed; their name only where it refers
# to them: a JSON value equal to it (a notice's, an audit entry's), the notice's sentence
# made from it, an @mention in posts. Each column listed is scanned (LIKE) once per person.
SCRUBBED = (
    scrub.Texts(AuditEntry, json=("before", "after"), named_json=("before", "after")),
    scrub.Texts(
        Notification,
        text=("message",),
        json=("params",),
        named_json=("params",),
        follow=("message",),
    ),
    scrub.Texts(OutboxMessage, text=("subject", "text", "html"), json=("headers",)),
    scrub.Texts(
        Post, mentions=("title", "body"), render=("body_html", "body", board.markdown_html)
    ),
    scrub.Texts(Reply, mentions=("body",), render=("body_html", "body", board.markdown_html)),
    scrub.Texts(PostRevision, mentions=("title", "body")),
    scrub.Texts(PostReport, text=("reason",)),
    scrub.Texts(ReviewItem, text=("note",), mentions=("excerpt",), json=("words",)),
    scrub.Texts(Report, text=("reason", "note")),
    scrub.Texts(OrderEvent, text=("note",)),
    scrub.Texts(RefundRequest, text=("reason", "note")),
    scrub.Texts(Message, text=("body",)),
    scrub.Texts(PersonNote, text=("body",)),
    scrub.Texts(Segment, json=("rules",)),
    scrub.Texts(Broadcast, text=("title", "body", "body_html")),
    scrub.Texts(KeywordMiss, text=("sample", "key")),
)
