"""Broadcasts, the one push a day: a message to an audience, as an inbox notice to each and as
a mail to those who chose broadcast mail, sent in batches by a job.

How a broadcast goes (each step one transaction, so a worker killed anywhere leaves either
the step done or not begun, never half):
1. `create` checks the audience (not empty, not everyone already reached that day: 409
   `daily_limit`) and saves it `scheduled` at `send_at` (now, for "send now").
2. `start` (at `send_at`, by the job or at once for "send now") moves it to `sending` and
   writes one pending row per recipient: the audience as it is then.
3. `deliver_batch` claims up to BATCH pending rows (SKIP LOCKED: two workers take disjoint
   batches), writes each person's reach of the day, and for those it reached their notice and
   their mail (through the outbox, in the same transaction), and moves the rows to delivered,
   skipped or failed with the counters. A batch that dies rolls back whole and is claimed
   again: nobody gets a broadcast twice.
4. When no row is pending, the broadcast is `sent`.

A broadcast's words are the staff's own and are never refused, but the watched words are
shown to whoever writes one (watched_words: the preview, the broadcast's page, the API's
answer), so a word the community watches does not go out unread.

Invariant "nobody receives more than one broadcast a Shanghai calendar day, however
audiences overlap": crm_daily_reach's unique (user_id, day), written in step 3's transaction
(crm.models.DailyReach). Batches claim in user order, so two batches writing the same people
lock them in one order.
"""

from __future__ import annotations

import html
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup
from tortoise.expressions import F, Q, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

import links
from accounts import audit, mail_layout, notices, outbox
from accounts.models import NoticeChannel, NoticeChoice, Notification, User
from community.text import render_markdown
from crm import segments
from crm.errors import (
    BroadcastNotFound,
    DailyLimit,
    EmptyAudience,
    NotScheduled,
    ProductNotFound,
    SegmentNotFound,
)
from crm.models import (
    AudienceKind,
    Broadcast,
    BroadcastRecipient,
    BroadcastStatus,
    DailyReach,
    RecipientState,
    Segment,
)
from db import for_dialect, read_sql
from errors import ValidationError
from moderation import words as watched
from moderation.words import FoundWord
from store.models import Product
from tallies import shanghai_day
from translation import supported, translations

log = logging.getLogger(__name__)
KIND = segments.BROADCAST_KIND
BATCH = 500
MAX_TITLE = 120
MAX_BODY = 20_000
LATEST_SEND = timedelta(days=366)
SQL = Path(__file__).resolve().parent / "sql"
_CLAIM = read_sql(SQL / "claim_recipients.sql")
_WRITE_RECIPIENTS_PG = read_sql(SQL / "write_recipients_postgres.sql")
_WRITE_RECIPIENT = read_sql(SQL / "write_recipient.sql")
_HREF = re.compile(r'href="(https?://[^"]*)"')


@dataclass(frozen=True)
class Audience:
    kind: AudienceKind
    id: int | None = None


def body_html(body: str) -> tuple[str, list[str]]:
    """The Markdown body as safe HTML, and its web links in order (what a click may reach).
    No pictures: in a mail, a picture from elsewhere is a tracking pixel for whoever serves
    it."""
    rendered = render_markdown(body, pictures=False)
    return rendered, [html.unescape(url) for url in _HREF.findall(rendered)]


async def audience_people(audience: Audience, *, now: datetime) -> QuerySet[User]:
    """Who an audience is at `now`, less those who chose to receive no broadcasts. Raises
    SegmentNotFound, ProductNotFound, ValidationError (a kind that needs an id without one)."""
    if audience.kind in (AudienceKind.SEGMENT, AudienceKind.PRODUCT_BUYERS) and not audience.id:
        raise ValidationError("audience.id", "is needed for a segment or a product's buyers")
    if audience.kind == AudienceKind.ALL_MEMBERS:
        people = User.filter(member_until__gt=now)
    elif audience.kind == AudienceKind.EVERYONE:
        people = User.all()
    elif audience.kind == AudienceKind.SEGMENT:
        segment = await segments.get(int(audience.id or 0))
        people = await segments.people(segments.rules_of(segment), now=now)
    else:
        if not await Product.exists(id=audience.id):
            raise ProductNotFound()
        people = User.filter(id__in=Subquery(segments.buyers_of(int(audience.id or 0))))
    declined = NoticeChoice.filter(kind=KIND, channel=NoticeChannel.NOTHING).values("user_id")
    return people.filter(~Q(id__in=Subquery(declined)))


async def already_reached(people: QuerySet[User], day: Any, *, now: datetime) -> int:
    """How many of `people` a broadcast has reached on `day`, or (when `day` is today) will
    reach first: the pending recipients of a broadcast still sending. Broadcasts scheduled
    for later that day are not counted: whoever they reach first, the other skips."""
    reached = Q(id__in=Subquery(DailyReach.filter(day=day).values("user_id")))
    if day == shanghai_day(now):
        sending = BroadcastRecipient.filter(
            state=RecipientState.PENDING, broadcast__status=BroadcastStatus.SENDING
        ).values("user_id")
        reached |= Q(id__in=Subquery(sending))
    return await people.filter(reached).count()


def _check_text(title: str, body: str) -> tuple[str, str]:
    title = " ".join(title.split())
    if not 1 <= len(title) <= MAX_TITLE:
        raise ValidationError("title", f"must be 1 to {MAX_TITLE} characters")
    if not body.strip() or len(body) > MAX_BODY:
        raise ValidationError("body", f"must be 1 to {MAX_BODY} characters")
    return title, body


def _send_time(send_at: datetime | None, now: datetime) -> datetime:
    """When a broadcast goes: `send_at`, or now for None; not in the past, within a year."""
    when = now if send_at is None else send_at
    if when < now - timedelta(minutes=1):
        raise ValidationError("send_at", "is in the past")
    if when > now + LATEST_SEND:
        raise ValidationError("send_at", "is more than a year away")
    return when


async def create(
    *,
    actor: User | None,
    title: str,
    body: str,
    audience: Audience,
    send_at: datetime | None,
    now: datetime,
) -> Broadcast:
    """Save a broadcast to send at `send_at` (None: now, and it starts at once). Raises
    ValidationError, EmptyAudience, DailyLimit (everyone in the audience already reached on
    the send's Asia/Shanghai day), SegmentNotFound, ProductNotFound."""
    title, body = _check_text(title, body)
    when = _send_time(send_at, now)
    people = await audience_people(audience, now=when)
    recipients = await people.count()
    if recipients == 0:
        raise EmptyAudience()
    day = shanghai_day(when)
    if await already_reached(people, day, now=now) == recipients:
        raise DailyLimit(day=day.isoformat())
    rendered, targets = body_html(body)
    async with in_transaction():
        broadcast = await Broadcast.create(
            title=title,
            body=body,
            body_html=rendered,
            links=targets,
            audience_kind=audience.kind,
            audience_id=audience.id,
            send_at=when,
            recipients=recipients,
            created_by_id=actor.id if actor else None,
            created_at=now,
        )
        await audit.record(
            actor=actor,
            action="broadcast.create",
            object_type="broadcast",
            object_id=broadcast.id,
            after={
                "title": title,
                "audience": {"kind": audience.kind.value, "id": audience.id},
                "send_at": when.isoformat(),
                "recipients": recipients,
            },
            now=now,
        )
    if send_at is None:
        await start(broadcast.id, now=now)
        await broadcast.refresh_from_db()
    return broadcast


@dataclass(frozen=True)
class Preview:
    """A broadcast as it would go, before it is saved (the console's preview)."""

    title: str
    body_html: str  # as members read it on the site
    send_at: datetime
    recipients: int  # the audience at send_at
    already_reached: int  # of them, reached by a broadcast on send_at's Shanghai day
    mail: outbox.Message  # as the one previewing would receive it
    watched_words: list[FoundWord]  # in its title and body: a warning, nothing refused

    @property
    def reachable(self) -> int:
        return self.recipients - self.already_reached


async def preview(
    *,
    viewer: User,
    title: str,
    body: str,
    audience: Audience,
    send_at: datetime | None,
    now: datetime,
) -> Preview:
    """What `create` would send, saving nothing: the message as a member reads it, the mail as
    `viewer` would receive it, the audience's count with how many of them a broadcast
    already reached on the send's Asia/Shanghai day (`create` refuses an audience that is
    empty or all reached), and the watched words in it. Raises ValidationError,
    SegmentNotFound, ProductNotFound."""
    title, body = _check_text(title, body)
    when = _send_time(send_at, now)
    people = await audience_people(audience, now=when)
    recipients = await people.count()
    reached = await already_reached(people, shanghai_day(when), now=now) if recipients else 0
    rendered, targets = body_html(body)
    draft = Broadcast(id=0, title=title, body=body, body_html=rendered, links=targets)
    return Preview(
        title=title,
        body_html=rendered,
        send_at=when,
        recipients=recipients,
        already_reached=reached,
        # A viewer without an address sees the mail as it would be, addressed to nobody.
        mail=compose_mail(draft, viewer.id, viewer.email or "", viewer.locale or ""),
        watched_words=await watched_words(title, body),
    )


async def watched_words(title: str, body: str) -> list[FoundWord]:
    """The watched words in a broadcast's title and body, each once with its action. Never
    a refusal: a warning for whoever writes it."""
    return await watched.watched_in(title=title, body=body)


async def cancel(*, actor: User | None, broadcast_id: int, now: datetime) -> Broadcast:
    """Withdraw a broadcast that has not started. Raises BroadcastNotFound, NotScheduled."""
    async with in_transaction():
        moved = await Broadcast.filter(id=broadcast_id, status=BroadcastStatus.SCHEDULED).update(
            status=BroadcastStatus.CANCELED, finished_at=now
        )
        broadcast = await get(broadcast_id)
        if not moved:
            raise NotScheduled()
        await audit.record(
            actor=actor,
            action="broadcast.cancel",
            object_type="broadcast",
            object_id=broadcast_id,
            before={"status": "scheduled"},
            after={"status": "canceled"},
            now=now,
        )
    return broadcast


async def get(broadcast_id: int) -> Broadcast:
    broadcast = await Broadcast.get_or_none(id=broadcast_id)
    if broadcast is None:
        raise BroadcastNotFound()
    return broadcast


async def recent(*, limit: int = 50) -> list[Broadcast]:
    return await Broadcast.all().order_by("-id").limit(limit)


async def audience_names(items: list[Broadcast]) -> dict[int, str]:
    """The name of each broadcast's segment or product (by broadcast id), where it has one
    that still exists."""
    segment_ids = {b.audience_id for b in items if b.audience_kind == AudienceKind.SEGMENT}
    product_ids = {b.audience_id for b in items if b.audience_kind == AudienceKind.PRODUCT_BUYERS}
    segment_names = dict(
        await Segment.filter(id__in=segment_ids).values_list("id", "name") if segment_ids else []
    )
    product_titles = dict(
        await Product.filter(id__in=product_ids).values_list("id", "title") if product_ids else []
    )
    names: dict[int, str] = {}
    for b in items:
        found = (
            segment_names.get(b.audience_id)
            if b.audience_kind == AudienceKind.SEGMENT
            else product_titles.get(b.audience_id)
            if b.audience_kind == AudienceKind.PRODUCT_BUYERS
            else None
        )
        if found is not None:
            names[b.id] = str(found)
    return names


async def start(broadcast_id: int, *, now: datetime) -> bool:
    """Write a due broadcast's recipients (the audience as it is now) and mark it `sending`,
    in one transaction; False when it is not scheduled or not yet due (another run started
    it, or it was canceled)."""
    async with in_transaction() as connection:
        broadcast = await (
            Broadcast.filter(id=broadcast_id, status=BroadcastStatus.SCHEDULED, send_at__lte=now)
            .select_for_update()
            .first()
        )
        if broadcast is None:
            return False
        audience = Audience(broadcast.audience_kind, broadcast.audience_id)
        try:
            people = await audience_people(audience, now=now)
            ids = cast(list[int], await people.order_by("id").values_list("id", flat=True))
        except (SegmentNotFound, ProductNotFound):
            ids = []  # its segment was deleted since: nobody is left to send to
        dialect = connection.capabilities.dialect
        if ids and dialect == "postgres":
            await connection.execute_query(_WRITE_RECIPIENTS_PG, [broadcast.id, ids])
        elif ids:
            await connection.execute_many(
                for_dialect(_WRITE_RECIPIENT, dialect), [[broadcast.id, u] for u in ids]
            )
        await Broadcast.filter(id=broadcast.id).update(
            status=BroadcastStatus.SENDING if ids else BroadcastStatus.SENT,
            started_at=now,
            finished_at=None if ids else now,
            recipients=len(ids),
        )
    return True


# Clicks: each web link of a mail goes through a signed redirect naming the broadcast, the
# person and the link's index; the target is read from the broadcast, never from the request.
def _clicks() -> URLSafeSerializer:
    return URLSafeSerializer(notices.letterhead().secret, salt="broadcast-click")


def click_link(broadcast_id: int, user_id: int, index: int) -> str:
    # A batch makes a link per person and web link: the router's lookup for each was most
    # of a batch's time (links.absolute_with_token looks the route up once).
    return links.absolute_with_token("crm.click", _clicks().dumps([broadcast_id, user_id, index]))


async def record_click(token: str, *, now: datetime) -> str:
    """Count one click of a mailed link and give where it goes. Raises ValidationError for a
    link that is not ours, BroadcastNotFound."""
    try:
        broadcast_id, user_id, index = _clicks().loads(token)
    except (BadSignature, ValueError, TypeError):
        raise ValidationError("token", "is not a link of ours") from None
    if not all(isinstance(n, int) for n in (broadcast_id, user_id, index)):
        raise ValidationError("token", "is not a link of ours")
    broadcast = await get(broadcast_id)
    targets = broadcast.links or []
    if not 0 <= index < len(targets):
        raise ValidationError("token", "is not a link of ours")
    async with in_transaction():
        await Broadcast.filter(id=broadcast_id).update(clicks=F("clicks") + 1)
        await BroadcastRecipient.filter(
            broadcast_id=broadcast_id, user_id=user_id, clicked_at__isnull=True
        ).update(clicked_at=now)
    return str(targets[index])


def compose_mail(broadcast: Broadcast, user_id: int, email: str, locale: str) -> outbox.Message:
    """The mail of `broadcast` to one person: its body with each web link going through a
    counted redirect, then why they get it and a one-click unsubscribe (RFC 8058)."""
    locale = supported(locale)
    counter = iter(range(len(broadcast.links or [])))

    def tracked(match: re.Match[str]) -> str:
        index = next(counter, None)
        if index is None:
            return match.group(0)
        return f'href="{html.escape(click_link(broadcast.id, user_id, index))}"'

    body = _HREF.sub(tracked, broadcast.body_html)
    text = broadcast.body
    for index, url in enumerate(broadcast.links or []):
        text = text.replace(url, click_link(broadcast.id, user_id, index), 1)
    footer, headers = notices.mail_footer(user_id, KIND, locale)
    page = links.absolute("crm.message", id=broadcast.id)
    gettext = translations(locale).gettext
    text_part, html_part = mail_layout.compose(
        mail_layout.MailContent(
            heading=broadcast.title,
            # Sanitised when the broadcast was saved (nh3), links counted above.
            body_html=Markup(body),  # nosec B704
            body_text=text,
            action=(gettext("Read it on Shuyuan"), page),
            preheader=broadcast.title,
        ),
        footer,
        locale=locale,
        subject=broadcast.title[:200],
    )
    return outbox.Message(
        recipient=email,
        subject=broadcast.title[:200],
        text=text_part,
        html=html_part,
        headers=headers,
        key=f"broadcast:{broadcast.id}:{user_id}",
    )


@dataclass(frozen=True)
class BatchResult:
    delivered: int = 0
    skipped: int = 0
    failed: int = 0
    mailed: int = 0

    @property
    def done(self) -> int:
        return self.delivered + self.skipped + self.failed


async def deliver_batch(broadcast_id: int, *, now: datetime, size: int = BATCH) -> BatchResult:
    """Deliver up to `size` of a sending broadcast's pending recipients, in one transaction
    (see the module's docstring); when none is left, the broadcast is marked sent."""
    day = shanghai_day(now)
    async with in_transaction() as connection:
        dialect = connection.capabilities.dialect
        sql = _CLAIM.replace(
            "/* lock */", "FOR UPDATE SKIP LOCKED" if dialect == "postgres" else ""
        )
        claimed = await connection.execute_query_dict(
            for_dialect(sql, dialect), [broadcast_id, size]
        )
        if not claimed:
            await (
                Broadcast.filter(id=broadcast_id, status=BroadcastStatus.SENDING)
                .filter(
                    ~Q(
                        id__in=Subquery(
                            BroadcastRecipient.filter(
                                broadcast_id=broadcast_id, state=RecipientState.PENDING
                            ).values("broadcast_id")
                        )
                    )
                )
                .update(status=BroadcastStatus.SENT, finished_at=now)
            )
            return BatchResult()
        broadcast = await Broadcast.get(id=broadcast_id)
        ids = [int(row["user_id"]) for row in claimed]
        people: dict[int, dict[str, Any]] = {
            row["id"]: row
            for row in await User.filter(id__in=ids).values(
                "id", "email", "email_verified_at", "locale"
            )
        }
        channels: dict[int, str] = {
            user_id: channel
            for user_id, channel in await NoticeChoice.filter(
                user_id__in=ids, kind=KIND
            ).values_list("user_id", "channel")
        }
        wanting = [
            user_id
            for user_id in ids
            if user_id in people and channels.get(user_id) != NoticeChannel.NOTHING
        ]
        await DailyReach.bulk_create(
            [DailyReach(user_id=u, day=day, broadcast_id=broadcast_id) for u in wanting],
            ignore_conflicts=True,
            using_db=connection,
        )
        # Read by person (the unique (user_id, day) index), the day and broadcast checked
        # here: a lookup by day would go through every reach of the day, batch after batch.
        reached: set[int] = {
            int(user_id)
            for user_id, on, by in await DailyReach.filter(user_id__in=wanting).values_list(
                "user_id", "day", "broadcast_id"
            )
            if on == day and by == broadcast_id
        }
        params = {"title": broadcast.title}
        message = notices.render(KIND, params, "zh_CN", broadcast.title)[:500]
        page = links.path("crm.message", id=broadcast_id)
        await Notification.bulk_create(
            [
                Notification(
                    user_id=u, kind=KIND, params=params, message=message, link=page, created_at=now
                )
                for u in ids
                if u in reached
            ],
            using_db=connection,
        )
        mails = [
            compose_mail(broadcast, u, people[u]["email"], people[u]["locale"] or "")
            for u in ids
            if u in reached
            and channels.get(u) == NoticeChannel.INBOX_AND_MAIL
            # Mail only to a verified address; an account without one (WeChat, phone) has
            # the inbox notice above.
            and people[u]["email"] is not None
            and people[u]["email_verified_at"] is not None
        ]
        await outbox.enqueue_many(mails, channel="mail", now=now)
        missing = [u for u in ids if u not in people]
        skipped = [u for u in ids if u in people and u not in reached]
        row_of = {int(row["user_id"]): int(row["id"]) for row in claimed}
        for state, group in (
            (RecipientState.DELIVERED, sorted(reached)),
            (RecipientState.SKIPPED, skipped),
            (RecipientState.FAILED, missing),
        ):
            if group:
                await BroadcastRecipient.filter(
                    id__in=[row_of[u] for u in group], state=RecipientState.PENDING
                ).update(state=state, done_at=now)
        result = BatchResult(len(reached), len(skipped), len(missing), len(mails))
        await Broadcast.filter(id=broadcast_id).update(
            delivered=F("delivered") + result.delivered,
            skipped=F("skipped") + result.skipped,
            failed=F("failed") + result.failed,
            mailed=F("mailed") + result.mailed,
        )
    return result


@dataclass(frozen=True)
class SendRun:
    started: int = 0
    delivered: int = 0
    skipped: int = 0
    failed: int = 0


RUN_SECONDS = 4.0  # a run of the job (every 5 s) stops taking batches after this long


async def send_due(*, now: datetime, seconds: float = RUN_SECONDS) -> SendRun:
    """The job: start the broadcasts that are due, then deliver batches of those sending,
    oldest first, for about `seconds`."""
    due = cast(
        list[int],
        await Broadcast.filter(status=BroadcastStatus.SCHEDULED, send_at__lte=now)
        .order_by("send_at", "id")
        .values_list("id", flat=True),
    )
    # A reach only matters on its own day: the days before yesterday are let go.
    await DailyReach.filter(day__lt=shanghai_day(now) - timedelta(days=1)).delete()
    started = 0
    for broadcast_id in due:
        try:
            started += await start(broadcast_id, now=now)
        except Exception:  # one broadcast that cannot start does not hold the others up
            log.exception("a broadcast could not start", extra={"broadcast": broadcast_id})
    delivered = skipped = failed = 0
    deadline = time.monotonic() + seconds
    sending = cast(
        list[int],
        await Broadcast.filter(status=BroadcastStatus.SENDING)
        .order_by("id")
        .values_list("id", flat=True),
    )
    for broadcast_id in sending:
        while time.monotonic() < deadline:
            try:
                batch = await deliver_batch(broadcast_id, now=now)
            except Exception:  # rolled back whole: tried again next run, the others go on
                log.exception("a broadcast's batch failed", extra={"broadcast": broadcast_id})
                break
            delivered += batch.delivered
            skipped += batch.skipped
            failed += batch.failed
            if batch.done == 0:
                break
    return SendRun(started, delivered, skipped, failed)


async def was_recipient(broadcast_id: int, user_id: int) -> bool:
    """Whether the broadcast reached `user_id` (who may read it on the site)."""
    return await BroadcastRecipient.exists(
        broadcast_id=broadcast_id, user_id=user_id, state=RecipientState.DELIVERED
    )
