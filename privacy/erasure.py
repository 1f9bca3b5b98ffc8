"""The erasure after leaving (注销, PIPL art. 47): when a person's cooling-off period has passed
(User.erase_after, set by accounts.leaving), everything personal about them is deleted or
emptied, one person at a time, each in one transaction. What happens to each table is
DECISIONS (privacy/decisions.py); a test fails when a table is missing from it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import cast

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from accounts import departures, profiles
from accounts.models import Activity as AccountActivity
from accounts.models import (
    ApiToken,
    Identity,
    IdentityKind,
    LoginCode,
    MailRequest,
    NoticeChoice,
    Notification,
    OutboxMessage,
    OutboxState,
    PasswordReset,
    PhoneAddress,
    PhoneCode,
    Session,
    User,
    WechatOpenid,
)
from community.board import services as board
from community.board.models import BoardBan, Post, PostReport, Reply
from community.feed.models import PodcastFeed
from crm.models import BroadcastRecipient, DailyReach, PersonNote, PersonTag
from membership.models import (
    Enrollment,
    EnrollmentStatus,
    Member,
    MembershipGrant,
    WaitlistEntry,
    WindowReminder,
)
from moderation.models import Report, ReviewItem
from payments.models import OPEN_STATUSES, Payment, PaymentStatus, Settlement
from privacy import export, scrub
from privacy.decisions import SCRUBBED
from privacy.models import DataExport
from privacy.scrub import ERASED_NAME
from referrals.models import LinkDay, Payout, PayoutStatus, ShareLink, Touch
from storage import STORAGE
from store import invoices
from store.models import (
    Allowance,
    DropReminder,
    InvoiceRequest,
    Order,
    OrderEvent,
    OrderStatus,
    RaffleEntry,
    RefundRequest,
    SavedAddress,
)
from support.models import Conversation, Message

log = logging.getLogger("privacy.erasure")

# Orders not yet ended: held for payment, paid, on their way (delivered, refunded, cancelled
# end them). A succeeded payment whose thing is not yet delivered or whose refund is due.
OPEN_ORDERS = (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.SHIPPED)
UNSETTLED = (None, Settlement.WAITING, Settlement.REFUND_DUE)


@dataclass
class Erased:
    """One person erased: their id, and how many rows and files each step touched."""

    user_id: int
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0


class Postponed(Exception):
    """Raised inside erase_person's transaction to undo its claim: something is still owed."""

    def __init__(self, owed: dict[str, list[int]]) -> None:
        super().__init__(owed)
        self.owed = owed


async def erase_due(*, now: datetime, var_dir: Path) -> list[Erased]:
    """Erase everyone whose cooling-off period has passed (erase_after <= now, not erased
    yet), one at a time, each in one transaction (erase_person). Idempotent: an erased person
    is never chosen again, and two workers never erase one person twice. A person whose
    erasure fails is logged and left for the next run; the others are erased all the same.
    Each run also deletes what files of people already erased are still on disk."""
    erased: list[Erased] = []
    after = 0
    try:
        await remove_leftover_files(var_dir)
    except Exception:
        log.exception("files of erased accounts could not be swept: tried again next run")
    while True:
        due = (
            await User.filter(erased_at=None, erase_after__lte=now, id__gt=after)
            .order_by("id")
            .first()
            .values_list("id", flat=True)
        )
        if due is None:
            return erased
        after = int(due)  # type: ignore[call-overload]
        try:
            done = await erase_person(after, now=now, var_dir=var_dir)
        except Exception:
            log.exception(
                "account %s not erased: tried again next run", after, extra={"user_id": after}
            )
            continue
        if done is not None:
            log.info("account erased", extra={"user_id": after, "rows": done.rows})
            erased.append(done)


async def erase_person(user_id: int, *, now: datetime, var_dir: Path) -> Erased | None:
    """Erase one person whose erase_after has come, in one transaction (DECISIONS says what
    happens to each table); their files are deleted once it committed. None: not due (undone,
    not yet, or already erased, by this run or another worker's), or postponed while money
    or goods are still owed either way (owed: logged as a warning, tried again each run)."""
    # Their copies of their data, support pictures, invoices, posters (storage.py).
    stored: list[str] = []
    try:
        async with in_transaction():
            # Invariant "erased once": the claim is this guarded UPDATE, in the transaction
            # that erases. A second worker's waits for the first to commit, then matches
            # nothing; an undo (erase_after set to None) that commits first makes it match
            # nothing too.
            claimed = await User.filter(id=user_id, erased_at=None, erase_after__lte=now).update(
                erased_at=now
            )
            if not claimed:
                return None
            # Invariant "nothing owed is erased": checked under the claim, on rows locked.
            if owed := await owed_either_way(user_id):
                raise Postponed(owed)
            user = await User.get(id=user_id)
            due = user.erase_after or now
            found = await _person(user)
            result = Erased(user_id)
            stored += await _delete_exports(user)
            stored += await _files_of(user)
            result.rows.update(await _delete_theirs(user))
            result.rows.update(await _detach_theirs(user))
            result.rows.update(await _scrub_others(found))
            await _empty_account(user)
    except Postponed as postponed:
        log.warning(
            "erasure of account %s postponed, still owed: %s", user_id, postponed.owed,
            extra={"user_id": user_id, "owed": postponed.owed},
        )  # fmt: skip
        return None
    for key in stored:
        result.files += await _delete_stored(key)
    result.files += await _remove_avatars(user_id)
    # Beside the database: a restore of an older backup erases them again (shuyuan erase-again).
    await departures.erased(user_id, due, now)
    return result


async def owed_either_way(user_id: int) -> dict[str, list[int]]:
    """What is still open between Shuyuan and the person, by kind (empty: nothing): orders
    awaiting payment, paid or shipped; payments not settled (open, or succeeded with the
    thing not yet delivered or the money not yet back); enrollments awaiting payment or paid
    and not yet granted; payouts of their rewards not yet decided. Their delivery needs the
    address the erasure empties; a payment landing on a held order would strand money. On
    PostgreSQL the rows are read FOR UPDATE: a payment settling meanwhile waits for the
    erasure's transaction (its claim or its rollback)."""
    mine = {"user_id": user_id}
    orders = await Order.filter(**mine).select_for_update().only("id", "status")
    payments = await Payment.filter(**mine).select_for_update().only("id", "status", "settlement")
    enrollments = await Enrollment.filter(**mine).select_for_update().only("id", "status")
    paid = [e.id for e in enrollments if e.status == EnrollmentStatus.PAID]
    granted = set(
        cast(
            list[int],
            await MembershipGrant.filter(enrollment_id__in=paid or [0]).values_list(
                "enrollment_id", flat=True
            ),
        )
    )
    payouts = await Payout.filter(referrer_id=user_id, status=PayoutStatus.REQUESTED)
    owed = {
        "orders": [o.id for o in orders if o.status in OPEN_ORDERS],
        "payments": [
            p.id
            for p in payments
            if p.status in OPEN_STATUSES
            or (p.status == PaymentStatus.SUCCEEDED and p.settlement in UNSETTLED)
        ],
        "enrollments": [
            e.id
            for e in enrollments
            if e.status == EnrollmentStatus.PENDING_PAYMENT
            or (e.status == EnrollmentStatus.PAID and e.id not in granted)
        ],
        "payouts": [p.id for p in payouts],
    }
    return {kind: ids for kind, ids in owed.items() if ids}


async def _delete_stored(key: str) -> int:
    """Delete one stored object after the erasure committed; a failure is logged, never
    raised (the sweeps retry: remove_leftover_files avatars and posters, privacy.export's
    sweep_orphans the copies)."""
    try:
        storage = STORAGE.get()
        if not await storage.exists(key):
            return 0
        await storage.delete(key)
    except Exception:
        log.exception("a file of an erased account could not be deleted: %s", key)
        return 0
    return 1


async def _remove_avatars(user_id: int) -> int:
    try:
        return await profiles.remove_every_avatar_file(user_id)
    except Exception:
        log.exception("avatars of erased account %s not deleted: tried next run", user_id)
        return 0


def _poster_sharer(key: str) -> str:
    """Whose share poster a key is: poster-<drawing>-<kind>-<object>-<sharer>-<lang>-<digest>."""
    parts = key.rpartition("/")[2].removesuffix(".png").split("-")
    return parts[4] if len(parts) >= 7 else ""


async def remove_leftover_files(var_dir: Path) -> int:
    """Avatars and share posters of accounts already erased still stored (a deletion that
    failed after its erasure committed): deleted. One listing of two folders per run."""
    storage = STORAGE.get()
    owners: dict[int, list[str]] = {}
    for key in await storage.keys("media/avatars/user-"):
        if (owner := key.rpartition("/")[2].split("-")[1]).isdigit():
            owners.setdefault(int(owner), []).append(key)
    for key in await storage.keys("media/posters/poster-"):
        if (sharer := _poster_sharer(key)).isdigit():
            owners.setdefault(int(sharer), []).append(key)
    if not owners:
        return 0
    erased = cast(
        list[int],
        await User.filter(id__in=list(owners), erased_at__not_isnull=True).values_list(
            "id", flat=True
        ),
    )
    return sum([await _delete_stored(key) for owner in erased for key in owners[owner]])


async def _person(user: User) -> scrub.Person:
    """What names this person in others' text: identifiers (email, numbers, WeChat ids,
    tax ids, their street addresses, tracking numbers) and names (the display name, WeChat
    nicknames). What a shipping or invoice name holds (a relative's name, 个人, a company)
    is not theirs to look for: their own rows are emptied."""
    identifiers: list[str | None] = [user.email]
    names: list[str | None] = [user.display_name]
    for identity in await Identity.filter(user_id=user.id):
        identifiers.append(identity.subject)
        if identity.kind == IdentityKind.PHONE:
            identifiers.append(identity.subject.removeprefix("+86"))
        if identity.kind == IdentityKind.WECHAT:
            names.append(identity.label)
    identifiers += await WechatOpenid.filter(user_id=user.id).values_list("openid", flat=True)  # type: ignore[arg-type]
    for order in await Order.filter(user_id=user.id):
        identifiers += [order.ship_phone, order.ship_address, order.tracking_number]
    for saved in await SavedAddress.filter(user_id=user.id):
        identifiers += [saved.phone, saved.address]
    for invoice in await InvoiceRequest.filter(user_id=user.id):
        identifiers += [invoice.tax_id, invoice.email]
    return scrub.person(identifiers, names)


async def _scrub_others(found: scrub.Person) -> dict[str, int]:
    """Others' rows naming them (SCRUBBED), the search index of posts changed, and the mail
    still queued that a notice naming them caused."""
    rows: dict[str, int] = {}
    for texts in SCRUBBED:
        changed = await scrub.scrub(texts, found)
        if changed:
            rows[f"scrubbed {texts.model._meta.db_table}"] = len(changed)
        if texts.model is Post:
            for post_id in changed:
                await board.reindex_post(post_id)
        if texts.model is Notification and changed:
            queued = await OutboxMessage.filter(
                dedupe_key__in=[f"notice:{notice}" for notice in changed],
                state=OutboxState.PENDING,
            ).values_list("id", flat=True)
            if count := await scrub.scrub_queued(OutboxMessage, queued, found):  # type: ignore[arg-type]
                rows["scrubbed queued accounts_outbox"] = count
    return rows


async def _delete_exports(user: User) -> list[str]:
    """Their copies deleted; their objects' keys. The rows are read locked (PostgreSQL), so
    an export worker marking a copy ready meanwhile is either seen here (its file named) or
    waits and then finds its row gone (and deletes its own file: privacy.export)."""
    rows = await DataExport.filter(user_id=user.id).select_for_update()
    if rows:
        await DataExport.filter(id__in=[row.id for row in rows]).delete()
    return [export.key_of(row.file_name) for row in rows if row.file_name]


async def _files_of(user: User) -> list[str]:
    """The other stored files holding something of theirs: support pictures, invoice PDFs
    and share posters (avatars are found by their names: accounts.profiles)."""
    storage = STORAGE.get()
    keys: list[str] = []
    pictures = await Message.filter(conversation__user_id=user.id, picture__not_isnull=True)
    for message in pictures:
        keys += await storage.keys(f"support/{message.picture}-")
    for invoice in await InvoiceRequest.filter(user_id=user.id, pdf_name__not_isnull=True):
        keys.append(invoices.pdf_key(str(invoice.pdf_name)))
    for poster in await storage.keys("media/posters/poster-"):
        if _poster_sharer(poster) == str(user.id):
            keys.append(poster)
    return keys


async def _delete_theirs(user: User) -> dict[str, int]:
    """Every row DECISIONS deletes, theirs."""
    mine = {"user_id": user.id}
    phones = [
        subject
        for subject in await Identity.filter(user_id=user.id, kind=IdentityKind.PHONE).values_list(
            "subject", flat=True
        )
    ]
    addresses = [user.email] if user.email else []
    conversations = await Conversation.filter(**mine).values_list("id", flat=True)
    links = await ShareLink.filter(sharer_id=user.id).values_list("id", flat=True)
    deleted = {
        "accounts_session": await Session.filter(**mine).delete(),
        "accounts_api_token": await ApiToken.filter(**mine).delete(),
        "accounts_notification": await Notification.filter(**mine).delete(),
        "accounts_outbox": await OutboxMessage.filter(recipient__in=[*addresses, *phones]).delete(),
        "accounts_password_reset": await PasswordReset.filter(**mine).delete(),
        "accounts_notice_choice": await NoticeChoice.filter(**mine).delete(),
        "accounts_login_code": await LoginCode.filter(**mine).delete(),
        "accounts_mail_request": await MailRequest.filter(email__in=addresses).delete(),
        "accounts_activity": await AccountActivity.filter(**mine).delete(),
        "accounts_wechat_openid": await WechatOpenid.filter(**mine).delete(),
        "accounts_phone_code": await PhoneCode.filter(phone__in=phones).delete(),
        "accounts_phone_address": await PhoneAddress.filter(phone__in=phones).delete(),
        "accounts_identity": await Identity.filter(**mine).delete(),
        "membership_window_reminder": await WindowReminder.filter(**mine).delete(),
        "membership_waitlist": await WaitlistEntry.filter(**mine).delete(),
        "membership_member": await Member.filter(**mine).delete(),
        "store_allowance": await Allowance.filter(**mine).delete(),
        "store_drop_reminder": await DropReminder.filter(**mine).delete(),
        "store_raffle_entry": await RaffleEntry.filter(
            **mine, product__raffle_drawn_at__isnull=True
        ).delete(),
        "store_saved_address": await SavedAddress.filter(**mine).delete(),
        "community_podcast_feed": await PodcastFeed.filter(**mine).delete(),
        "community_board_ban": await BoardBan.filter(**mine).delete(),
        "moderation_review_item": await ReviewItem.filter(
            author_id=user.id, kind__in=("profile", "avatar", "message")
        ).delete(),
        "support_message": await Message.filter(conversation_id__in=conversations).delete(),
        "support_conversation": await Conversation.filter(**mine).delete(),
        "crm_note": await PersonNote.filter(**mine).delete(),
        "crm_person_tag": await PersonTag.filter(**mine).delete(),
        "crm_broadcast_recipient": await BroadcastRecipient.filter(**mine).delete(),
        "crm_daily_reach": await DailyReach.filter(**mine).delete(),
        # Who brought them, and whom they would be credited for from now on: an erased
        # account earns nothing more. The referrals already made stay (the ledger's history).
        "referrals_touch": await Touch.filter(Q(user_id=user.id) | Q(referrer_id=user.id)).delete(),
        "referrals_link_day": await LinkDay.filter(link_id__in=links).delete(),
    }
    return {table: count for table, count in deleted.items() if count}


async def _detach_theirs(user: User) -> dict[str, int]:
    """The rows DECISIONS keeps detached: their personal fields emptied."""
    orders = await Order.filter(user_id=user.id).values_list("id", flat=True)
    detached = {
        "store_order": await Order.filter(user_id=user.id).update(
            ship_name=None,
            ship_phone=None,
            ship_province=None,
            ship_city=None,
            ship_district=None,
            ship_address=None,
            ship_district_code=None,
            tracking_number=None,
        ),
        "store_order_event": await OrderEvent.filter(order_id__in=orders).update(note=""),
        "store_refund_request": await RefundRequest.filter(order_id__in=orders).update(reason=""),
        "store_invoice_request": await InvoiceRequest.filter(user_id=user.id).update(
            title="", tax_id=None, email=None, pdf_name=None
        ),
        # Amounts, provider ids and times stay; what the provider's pages held of the payer
        # (a wallet's parameters, an error's words) and the browser's secret go.
        "payments_payment": await Payment.filter(user_id=user.id).update(
            client_secret=None, action_url=None, action_help_url=None, failure_message=None
        ),
        "community_post": await Post.filter(author_id=user.id).update(ip_region=None),
        "community_reply": await Reply.filter(author_id=user.id).update(ip_region=None),
        "community_post_report": await PostReport.filter(reporter_id=user.id).update(reason=""),
        "moderation_report": await Report.filter(reporter_id=user.id).update(reason=""),
        "referrals_share_link": await _retire_links(user),
    }
    return {f"detached {table}": count for table, count in detached.items() if count}


async def _retire_links(user: User) -> int:
    """Their share links stay (the referrals through them, the referrers' ledger history,
    point at them), each code replaced by one no link can have (share_links.CODE): a visit
    through it finds nothing, so an erased account is nobody's referrer again."""
    retired = 0
    for link_id in await ShareLink.filter(sharer_id=user.id).values_list("id", flat=True):
        retired += await ShareLink.filter(id=link_id).update(code=f"~{link_id}")
    return retired


async def _empty_account(user: User) -> None:
    """The account's row stays (orders, payments and posts point at it), emptied."""
    await User.filter(id=user.id).update(
        email=None,
        display_name=ERASED_NAME,
        password_hash="",  # nosec B106  # no password: none matches it
        bio="",
        avatar_version=0,
        ip_region=None,
        locale=None,
        email_verified_at=None,
        staff_role=None,
        admin_flag=False,
        member_until=None,
    )
