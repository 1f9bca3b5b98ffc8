"""One member who did everything issue 39 lists, made through the app's own services: what the
export must hold (tests/privacy/test_export.py) and the erasure must remove."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from accounts import consents, legal_documents, notices
from accounts import services as accounts
from accounts.models import Identity, IdentityKind, User, WechatOpenid
from accounts.profiles import update_profile
from community.board import replies
from community.board import services as board
from crm import notes
from membership import grants, reminders
from membership import services as membership
from moderation import reports
from payments.provider import PaymentProvider
from payments.services import PaymentChoice
from ratelimit import MemoryCounter
from referrals import attribution, ledger, reward_rules, share_links
from referrals.models import LedgerEntry, Source
from settings import Settings
from store import invoices
from store import services as store
from store.shipping import check_address
from support import services as support
from tests.factories import (
    PASSWORD,
    card_payment_method,
    make_member,
    make_user,
    make_window,
    session_cookie,
)

# What no other row of a test database holds: a search for any of them finds only this person.
NAME = "欧阳砚秋"
EMAIL = "yanqiu.ouyang@example.cn"
PHONE = "13987654321"  # as typed in a shipping address
PHONE_SUBJECT = "+8613987654321"  # as the phone Identity keeps it
BIO = "在杭州读宋史，也写写小楷。"
POST_TITLE = "砚秋的读书笔记"
POST_BODY = "宋代的书院制度，先从白鹿洞说起。"
POST_EDITED = "宋代的书院制度，先从白鹿洞书院说起。"
REPLY_BODY = "砚秋也想参加这个读书会。"
SUPPORT_BODY = "砚秋的订单什么时候发货？"
REPORT_REASON = "砚秋觉得这是广告"
INVOICE_TITLE = "欧阳砚秋"
STAFF_NOTE = "砚秋是老读者，常买宋史。"
STAFF_TAG = "宋史爱好者"
TOKEN_NAME = "砚秋的脚本"
WECHAT_NICKNAME = "砚秋"
WECHAT_UNIONID = "unionid-yanqiu-0001"
OPENID = "openid-yanqiu-0001"
STREET = "灵隐路 7 号 砚秋书斋"


@dataclass
class Everything:
    """The member, the strings that are theirs alone, and the ids of what they made."""

    user: User
    name: str = NAME
    email: str = EMAIL
    phone: str = PHONE
    other: User | None = None  # a second member they talked to: none of theirs is exported
    ids: dict[str, list[int]] = field(default_factory=dict)

    def add(self, kind: str, row_id: int) -> None:
        self.ids.setdefault(kind, []).append(row_id)


async def _card(settings: Settings) -> PaymentChoice:
    """The test card that succeeds, as Stripe.js would hand it over."""
    return PaymentChoice(payment_method=await card_payment_method(settings, "4242424242424242"))


async def member_who_did_everything(
    settings: Settings, provider: PaymentProvider, *, now: datetime | None = None
) -> Everything:
    """A member with a profile, three ways in (password, phone, WeChat), a session and an API
    token, a broadcast consent, an enrollment paid by card and a gift of membership, a window
    reminder, a paid order shipped to their address with an invoice asked for, a post (edited:
    a revision) and a reply that tells another member, a like, notices, a conversation with
    customer service, share links, a referral both ways, a reward and a payout asked for, a
    report they made, and a staff note and tag about them. `provider`: the test's localstripe."""
    now = now or datetime.now(UTC)
    counter = MemoryCounter()
    staff = await make_user(role="admin", name="运营小周")
    other = await make_member(name="邻座书友")
    user = await accounts.register(email=EMAIL, password=PASSWORD, display_name=NAME)
    # Card payments go to Stripe, abroad: agreed to at the checkout first (PIPL art. 39).
    versions = await legal_documents.current_versions(fresh=True)
    await consents.agree(user, "cross_border", versions.cross_border, source="checkout", now=now)
    made = Everything(user=user, other=other)

    # Profile, language, a verified address.
    user.email_verified_at = now
    await user.save(update_fields=["email_verified_at"])
    user = await update_profile(user, bio=BIO, locale="zh_CN", now=now)
    made.user = user

    # Sign-in methods: a phone number and a WeChat person (as their first sign-ins write them).
    phone = await Identity.create(
        user=user, kind=IdentityKind.PHONE, subject=PHONE_SUBJECT,
        label=f"{PHONE[:3]}****{PHONE[-4:]}", created_at=now,
    )  # fmt: skip
    wechat = await Identity.create(
        user=user, kind=IdentityKind.WECHAT, subject=WECHAT_UNIONID, label=WECHAT_NICKNAME,
        created_at=now,
    )  # fmt: skip
    openid = await WechatOpenid.create(
        identity=wechat, user_id=user.id, app_id=settings.wechat_official.app_id
        if settings.wechat_official else "wx-official", openid=OPENID,
        created_at=now,
    )  # fmt: skip
    made.add("identity", phone.id)
    made.add("identity", wechat.id)
    made.add("wechat_openid", openid.id)

    # A browser session and an API token.
    await session_cookie(user)
    await accounts.issue_token(user, name=TOKEN_NAME)

    # Consent: broadcast mail, chosen on the notices page.
    await notices.choose(user, "broadcast", "inbox_mail", source="notices_page", now=now)

    # Membership: a seat in the open window paid by card, then a gift of days; a reminder of
    # the next window.
    window = await make_window(now=now, price_fen=19_900, name="2027 年度会员")
    enrollment = await membership.enroll(window_id=window.id, user=user, now=now)
    paid = await membership.pay_enrollment(
        provider=provider, enrollment_id=enrollment.id, user=user, now=now,
        choice=await _card(settings),
    )  # fmt: skip
    assert paid.payment.status == "succeeded", paid
    made.add("enrollment", enrollment.id)
    made.add("payment", paid.payment.id)
    await grants.grant_complimentary(user_id=user.id, days=30, now=now, actor=staff)
    next_window = await make_window(
        now=now, opens_in=timedelta(days=300), name="2028 年度会员", seats=5
    )
    await reminders.remind_me(window_id=next_window.id, user=user, now=now)
    user = made.user = await User.get(id=user.id)  # a member now

    # Referrals: the other member shares a product, this member comes through it and buys it;
    # this member shares it too and brings a friend, whose purchase rewards them.
    product = await store.create_product(
        title="《宋史》函套", description="", category="图书", price_fen=12_800, stock=5
    )
    await reward_rules.set_rule(
        applies_kind="product", applies_id=product.id, kind="percent", value=10,
        actor=staff, now=now,
    )  # fmt: skip
    theirs = await share_links.link_for(other, "product", product.id, now)
    mine = await share_links.link_for(user, "product", product.id, now)
    made.add("share_link", mine.id)
    await attribution.touch(user.id, theirs, Source.LINK, at=now, days=7)

    # An order shipped to their own address, paid by card, with an invoice asked for.
    shipping = check_address(
        name=NAME, phone=PHONE, province="浙江省", city="杭州市", district="西湖区",
        address=STREET,
    )  # fmt: skip
    order = await store.place_order(
        buyer=user, items=[store.Wanted(product_id=product.id, quantity=1)], now=now,
        counter=counter, shipping=shipping,
    )  # fmt: skip
    await store.pay_order(
        provider=provider, order_id=order.id, user=user, now=now,
        choice=await _card(settings),
    )  # fmt: skip
    made.add("order", order.id)
    invoice = await invoices.ask(
        order_id=order.id, user=user, kind="personal", title=INVOICE_TITLE, tax_id=None,
        email=EMAIL, now=now,
    )  # fmt: skip
    made.add("invoice", invoice.id)

    friend = await make_user(name="新来的书友")
    await attribution.touch(friend.id, mine, Source.LINK, at=now, days=7)
    their_order = await store.place_order(
        buyer=friend, items=[store.Wanted(product_id=product.id, quantity=1)], now=now,
        counter=counter, shipping=check_address(
            name="邻座", phone="13700000000", province="北京市", city="北京市",
            district="海淀区", address="中关村大街 1 号",
        ),
    )  # fmt: skip
    await store.pay_order(
        provider=provider, order_id=their_order.id, user=friend, now=now,
        choice=await _card(settings),
    )  # fmt: skip
    reward = await LedgerEntry.get(referrer_id=user.id)
    made.add("ledger", reward.id)
    payout = await ledger.request_payout(user.id, 100, reward.available_at + timedelta(seconds=1))
    made.add("payout", payout.id)

    # The board: their post (edited once), the other member's post they reply to and like,
    # and the other member's reply to theirs (a notice in their inbox).
    post, _ = await board.create_post(
        author=user, category="knowledge", title=POST_TITLE, body=POST_BODY, counter=counter,
        now=now,
    )  # fmt: skip
    await board.edit_post(
        post.id, editor=user, title=POST_TITLE, body=POST_EDITED, category=None, now=now
    )
    made.add("post", post.id)
    their_post, _ = await board.create_post(
        author=other, category="knowledge", title="周六读书会", body="在孤山脚下。",
        counter=counter, now=now,
    )  # fmt: skip
    reply, _ = await replies.reply(
        their_post.id, author=user, body=REPLY_BODY, counter=counter, now=now
    )
    made.add("reply", reply.id)
    await board.like(their_post.id, user=user, now=now)
    await replies.reply(post.id, author=other, body="白鹿洞值得一去。", counter=counter, now=now)

    # Customer service, and a report of an advertisement.
    conversation = await support.start(user, body=SUPPORT_BODY, now=now, counter=counter)
    made.add("conversation", conversation.id)
    report = await reports.report(
        "post", their_post.id, reporter=user, reason=REPORT_REASON, now=now
    )
    made.add("report", report.id)

    # What the staff wrote about them.
    note = await notes.add_note(author=staff, user_id=user.id, body=STAFF_NOTE, now=now)
    made.add("note", note.id)
    await notes.add_tag(actor=staff, user_id=user.id, name=STAFF_TAG, now=now)

    made.user = await User.get(id=user.id)
    return made
