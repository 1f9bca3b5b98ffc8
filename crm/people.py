"""A person as the back office sees them, whole: one page gathered from every package (their
account and ways in, membership, orders and payments, the board, what they were told, what
they did, staff's notes and tags, their conversations with customer service), and the one
search that finds them.

Each section is bounded (the latest SECTION rows, newest first). Orders, payments and refunds
are shown only to readers whose role may read them (Capability.ORDERS, PAYMENTS): None
otherwise, so a moderator's page says "not yours to see" rather than "none". So are the
conversations, and the text of the notices that quote an answer from customer service
(Capability.CONVERSATIONS): such a notice is listed by its kind alone.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta

from tortoise.expressions import Subquery
from tortoise.functions import Sum

from accounts import notices, sign_in_methods, staff
from accounts.models import (
    Activity,
    ApiToken,
    Consent,
    LoginCode,
    Notification,
    OutboxMessage,
    Session,
    User,
)
from accounts.roles import Capability
from community.board import services as board
from community.board.models import BoardBan, Post
from crm import notes as crm_notes
from crm.errors import PersonNotFound
from crm.models import BroadcastRecipient
from crm.person_page import (
    ActivityCount,
    ActivitySummary,
    BanRow,
    BoardSection,
    BroadcastRow,
    ConsentRow,
    ConversationRow,
    EnrollmentRow,
    GrantRow,
    LoginCodeRow,
    MailRow,
    MembershipSection,
    NoteRow,
    NoticeRow,
    OrderItemRow,
    OrderRow,
    PaymentRow,
    PersonPage,
    PostRow,
    Profile,
    RefundRow,
    ReportRow,
    SessionRow,
    SignIn,
    TokenRow,
)
from membership.models import Enrollment, Member, MembershipGrant
from moderation.models import Report, ReportStatus
from payments.models import Payment, Refund
from store.models import Order, OrderItem
from support import queue
from support import services as support
from support.notices import SUPPORT_REPLY
from tallies import shanghai_day
from translation import DEFAULT_LOCALE, supported

SECTION = 50  # rows of a section: the latest
LOGIN_CODES = 10
ACTIVITY_DAYS = 30
MEMBER_NUMBER = "SY-{:06d}"  # the member card's number (templates/membership/card.html)


def member_number(member_id: int) -> str:
    return MEMBER_NUMBER.format(member_id)


async def person_page(
    reader: User, user_id: int, *, now: datetime, locale: str | None = None
) -> PersonPage:
    """Everything the back office knows of `user_id`, as `reader` may see it; notices are
    worded in `locale` (the reader's language when not given). Raises PersonNotFound."""
    person = await User.get_or_none(id=user_id)
    if person is None:
        raise PersonNotFound()
    member = await Member.get_or_none(user_id=user_id)
    may_pay = reader.may(Capability.PAYMENTS)
    return PersonPage(
        profile=_profile(person, member),
        sign_in=await _sign_in(person),
        membership=await _membership(person, member, with_money=may_pay),
        orders=await _orders(user_id) if reader.may(Capability.ORDERS) else None,
        payments=await _payments(user_id) if may_pay else None,
        board=await _board(user_id, now),
        notices=await _notices(
            user_id,
            supported(locale or reader.locale or DEFAULT_LOCALE),
            # An answer's notice quotes it: only for readers who answer conversations.
            withheld=set() if support.may_answer(reader) else {SUPPORT_REPLY},
        ),
        mails=[
            MailRow(m.id, m.subject, m.state.value, m.created_at, m.sent_at)
            for m in (
                await OutboxMessage.filter(recipient=person.email).order_by("-id").limit(SECTION)
                if person.email is not None  # no address, no mail
                else []
            )
        ],
        broadcasts=[
            BroadcastRow(
                r.broadcast_id,  # type: ignore[attr-defined]
                r.broadcast.title,
                r.broadcast.status.value,
                r.state.value,
                r.done_at,
                r.clicked_at,
            )
            for r in await BroadcastRecipient.filter(user_id=user_id)
            .select_related("broadcast")
            .order_by("-id")
            .limit(SECTION)
        ],
        consents=[
            ConsentRow(c.id, c.purpose, c.granted, c.source, c.wording, c.at)
            for c in await Consent.filter(user_id=user_id).order_by("-id").limit(SECTION)
        ],
        activity=await _activity(user_id, now),
        notes=[
            NoteRow(
                n.id,
                n.body,
                n.visibility.value,
                n.author_id,  # type: ignore[attr-defined]
                n.author.display_name if n.author else None,
                n.created_at,
            )
            for n in await crm_notes.notes_for(reader, user_id)
        ],
        tags=await crm_notes.tags_of(user_id),
        conversations=await _conversations(person) if support.may_answer(reader) else None,
    )


def _profile(person: User, member: Member | None) -> Profile:
    return Profile(
        id=person.id,
        email=person.email,
        display_name=person.display_name,
        created_at=person.created_at,
        locale=person.locale,
        staff_role=person.staff_role,
        member_until=person.member_until,
        member_number=member_number(member.id) if member else None,
        email_verified=person.email_verified_at is not None,
        email_verified_at=person.email_verified_at,
        bio=person.bio,
        erase_after=person.erase_after,
        erased_at=person.erased_at,
    )


async def _sign_in(person: User) -> SignIn:
    sessions = Session.filter(user_id=person.id)
    return SignIn(
        methods=await sign_in_methods.methods(person),
        email_verified=person.email_verified_at is not None,
        session_count=await sessions.count(),
        sessions=[
            SessionRow(s.created_at, s.last_seen_at, s.user_agent, s.address)
            for s in await sessions.order_by("-last_seen_at").limit(SECTION)
        ],
        tokens=[
            TokenRow(t.id, t.name, t.created_at, t.last_used_at, t.revoked_at)
            for t in await ApiToken.filter(user_id=person.id).order_by("-id").limit(SECTION)
        ],
        login_codes=[
            LoginCodeRow(c.created_at, c.used_at, c.expires_at)
            for c in await LoginCode.filter(user_id=person.id).order_by("-id").limit(LOGIN_CODES)
        ],
    )


async def _membership(
    person: User, member: Member | None, *, with_money: bool
) -> MembershipSection:
    grants = await MembershipGrant.filter(user_id=person.id).order_by("-id").limit(SECTION)
    granters = await _names({g.granted_by_id for g in grants if g.granted_by_id})
    enrollments = (
        await Enrollment.filter(user_id=person.id)
        .select_related("window")
        .order_by("-id")
        .limit(SECTION)
    )
    return MembershipSection(
        member_number=member_number(member.id) if member else None,
        member_since=member.since if member else None,
        member_until=person.member_until,
        grants=[
            GrantRow(
                g.id,
                g.source.value,
                g.days,
                g.previous_until,
                g.new_until,
                g.revoked_at,
                g.granted_by_id,
                granters.get(g.granted_by_id) if g.granted_by_id else None,
                g.enrollment_id,
                g.created_at,
            )
            for g in grants
        ],
        enrollments=[
            EnrollmentRow(
                e.id,
                e.window_id,  # type: ignore[attr-defined]
                e.window.name,
                e.status.value,
                e.amount_fen if with_money else None,
                e.created_at,
                e.paid_at,
            )
            for e in enrollments
        ],
        refunds=await _refunds(person.id) if with_money else None,
    )


async def _names(user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return {u.id: u.display_name for u in await User.filter(id__in=sorted(user_ids))}


async def _refunds(user_id: int) -> list[RefundRow]:
    """What was given back of their payments (payments.models.Refund), of any purpose."""
    refunded = {
        p.id: p
        for p in await Payment.filter(user_id=user_id, refunded_fen__gt=0)
        .order_by("-id")
        .limit(SECTION)
    }
    return [
        RefundRow(
            r.id,
            r.payment_id,
            refunded[r.payment_id].purpose,
            refunded[r.payment_id].subject_id,
            r.amount_fen,
            r.automatic,
            r.created_at,
        )
        for r in await Refund.filter(payment_id__in=list(refunded)).order_by("-id").limit(SECTION)
    ]


async def _orders(user_id: int) -> list[OrderRow]:
    orders = await Order.filter(user_id=user_id).order_by("-id").limit(SECTION)
    items: dict[int, list[OrderItemRow]] = {}
    for order_id, product_id, title, quantity, price in (
        await OrderItem.filter(order_id__in=[o.id for o in orders])
        .order_by("id")
        .values_list("order_id", "product_id", "product__title", "quantity", "unit_price_fen")
    ):
        items.setdefault(order_id, []).append(OrderItemRow(product_id, title, quantity, price))
    refunded: dict[int, int] = {
        p.id: p.refunded_fen
        for p in await Payment.filter(
            id__in=[o.payment_id for o in orders if o.payment_id is not None]
        )
    }
    return [
        OrderRow(
            id=o.id,
            status=o.status.value,
            total_fen=o.total_fen,
            created_at=o.created_at,
            paid_at=o.paid_at,
            payment_id=o.payment_id,
            refunded_fen=refunded.get(o.payment_id, 0) if o.payment_id else 0,
            items=items.get(o.id, []),
        )
        for o in orders
    ]


async def _payments(user_id: int) -> list[PaymentRow]:
    return [
        PaymentRow(
            p.id,
            p.purpose,
            p.subject_id,
            p.amount_fen,
            p.status.value,
            p.method.value,
            p.refunded_fen,
            p.created_at,
            p.succeeded_at,
        )
        for p in await Payment.filter(user_id=user_id).order_by("-id").limit(SECTION)
    ]


async def _board(user_id: int, now: datetime) -> BoardSection:
    categories = await board.categories()
    ban = await BoardBan.get_or_none(user_id=user_id)

    made = (
        await Report.filter(reporter_id=user_id, object_type="post")
        .order_by("-id")
        .limit(SECTION)
        .select_related("reporter")
    )
    against = (
        await Report.filter(
            object_type="post",
            object_id__in=Subquery(Post.filter(author_id=user_id).values("id")),
        )
        .order_by("-id")
        .limit(SECTION)
        .select_related("reporter")
    )
    titles = dict(
        await Post.filter(id__in=[r.object_id for r in [*made, *against]] or [0]).values_list(
            "id", "title"
        )
    )

    def report(r: Report) -> ReportRow:
        return ReportRow(
            r.id,
            r.object_id,
            titles.get(r.object_id, ""),
            r.reporter_id,  # type: ignore[attr-defined]
            r.reporter.display_name,
            r.reason,
            r.created_at,
            r.status != ReportStatus.OPEN,
        )

    return BoardSection(
        posts=[
            PostRow(
                p.id,
                p.title,
                p.category,
                categories.get(p.category, p.category),
                p.created_at,
                p.hidden,
                p.deleted,
                p.locked,
                p.reply_count,
            )
            for p in await Post.filter(author_id=user_id).order_by("-id").limit(SECTION)
        ],
        reports_made=[report(r) for r in made],
        reports_against=[report(r) for r in against],
        ban=BanRow(ban.until, ban.reason, ban.until > now) if ban else None,
    )


CONVERSATION_EXCERPT = 120  # characters of a conversation's latest message on the page


def _seconds(duration: timedelta | None) -> int | None:
    return int(duration.total_seconds()) if duration is not None else None


async def _conversations(person: User) -> list[ConversationRow]:
    """Their conversations with customer service, the latest message first."""
    conversations = await support.member_conversations(person, limit=SECTION)
    last = await support.last_messages(conversations)
    return [
        ConversationRow(
            c.id,
            c.status.value,
            c.first_message_at,
            c.last_message_at,
            c.waiting_since,
            c.first_response_at,
            _seconds(queue.first_response(c)),
            last[c.id].body[:CONVERSATION_EXCERPT] if c.id in last else "",
            last[c.id].from_staff if c.id in last else False,
        )
        for c in conversations
    ]


async def _notices(user_id: int, locale: str, *, withheld: set[str]) -> list[NoticeRow]:
    """Their latest notices; the text of those of the `withheld` kinds is not given."""
    return [
        NoticeRow(
            n.id,
            n.kind,
            None if n.kind in withheld else notices.text_of(n, locale),
            n.link,
            n.created_at,
            n.read_at,
        )
        for n in await Notification.filter(user_id=user_id).order_by("-id").limit(SECTION)
    ]


async def _activity(user_id: int, now: datetime) -> ActivitySummary:
    """What they did in the last ACTIVITY_DAYS Asia/Shanghai days (today included), per kind,
    and the last day they did anything at all."""
    today = shanghai_day(now)
    since = today - timedelta(days=ACTIVITY_DAYS - 1)
    rows = (
        await Activity.filter(user_id=user_id, day__gte=since, day__lte=today)
        .annotate(total=Sum("count"))
        .group_by("kind")
        .order_by("kind")
        .values_list("kind", "total")
    )
    latest = await Activity.filter(user_id=user_id).order_by("-day").first()
    return ActivitySummary(
        since=since,
        until=today,
        kinds=[ActivityCount(str(kind), int(total or 0)) for kind, total in rows],
        last_active_day=latest.day if latest else None,
    )


# What an operator types to find a person: a mainland mobile number as given for a delivery
# (spaces, dashes, +86 allowed), a member card's number ("SY-000009", "sy9", "000009").
_PHONE_SEPARATORS = re.compile(r"[\s\-()+]")
_MOBILE = re.compile(r"^(?:86)?(1[3-9][0-9]{9})$")
_CARD = re.compile(r"^(sy)?[\s\-]?0*([1-9][0-9]{0,8})$")
PHONE_MATCHES = 50  # accounts found by one phone, at most


async def find_people(
    text: str, *, cursor: int | None = None, limit: int = staff.FIND_LIMIT
) -> tuple[list[User], int | None]:
    """The console's one search for a person: an email's start, part of a display name, an
    account number (accounts.staff.find_people), and here the phone given for a delivery
    (store orders' ship_phone, digits only) and the member card's number, with or without
    "SY-". Newest accounts first, a page of `limit`, with the next page's cursor or None."""
    clean = unicodedata.normalize("NFKC", " ".join(str(text).split()))[: staff.MAX_FIND]
    also: set[int] = set()
    phone = _MOBILE.match(_PHONE_SEPARATORS.sub("", clean))
    if phone:
        also.update(
            await Order.filter(ship_phone=phone.group(1))
            .order_by("-user_id")
            .distinct()
            .limit(PHONE_MATCHES)
            .values_list("user_id", flat=True)  # type: ignore[arg-type]
        )
    card = _CARD.match(clean.lower())
    if card:
        also.update(
            await Member.filter(id=int(card.group(2))).values_list("user_id", flat=True)  # type: ignore[arg-type]
        )
    return await staff.find_people(clean, cursor=cursor, limit=limit, also_ids=also)
