"""The erasure after leaving (privacy.erasure): a departed member who did everything leaves
nothing personal in any column of any table, the exports' files, the search index or the mail
queue, while their orders' totals, the audit's ids and their posts (by 已注销用户) remain."""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tortoise import Tortoise, connections

import links
from accounts import audit
from accounts import leaving as accounts_leaving
from accounts.models import AuditEntry, MailRequest, Notification, OutboxMessage, Session, User
from community import search
from community.board.models import Post, Reply
from membership.models import Enrollment, MembershipGrant
from payments.models import Payment
from payments.provider import PaymentProvider
from privacy import erasure, leaving, retention
from privacy.decisions import DECISIONS
from privacy.models import DataExport, ExportState
from privacy.scrub import ERASED_NAME
from ratelimit import MemoryCounter
from referrals import ledger, share_links
from referrals.models import LedgerEntry, Referral, ShareLink, Touch
from settings import Settings
from store.models import InvoiceRequest, Order, OrderItem, OrderStatus
from support.models import Conversation, Message
from tests.factories import PASSWORD, make_user, session_cookie
from tests.privacy.everything import (
    BIO,
    OPENID,
    PHONE_SUBJECT,
    STREET,
    WECHAT_UNIONID,
    Everything,
    member_who_did_everything,
)

TEXT_TYPES = ("char", "text", "json", "clob")


async def _text_columns() -> list[tuple[str, str]]:
    """Every (table, column) of the database whose type holds text: varchar, text, json(b)."""
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        _, rows = await connection.execute_query(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND (data_type LIKE '%char%' "
            "OR data_type IN ('text', 'json', 'jsonb'))"
        )
        return [(row["table_name"], row["column_name"]) for row in rows]
    _, tables = await connection.execute_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    columns = []
    for table in tables:
        _, info = await connection.execute_query(f'PRAGMA table_info("{table["name"]}")')
        columns += [
            (table["name"], column["name"])
            for column in info
            if any(kind in str(column["type"]).lower() for kind in TEXT_TYPES)
        ]
    return columns


def _spellings(values: list[str]) -> list[str]:
    """Each value as typed and as JSON text escapes it (SQLite keeps JSON as that text)."""
    return sorted({form for value in values for form in (value, json.dumps(value)[1:-1])})


async def _where_found(values: list[str]) -> list[str]:
    """Every "table.column" holding one of `values`, searched in every text-like column."""
    connection = connections.get("default")
    found = []
    for table, column in await _text_columns():
        for value in _spellings(values):
            pattern = "%" + value.lower().replace("\\", "\\\\") + "%"
            sql = (
                f'SELECT COUNT(*) AS n FROM "{table}" '
                f"WHERE LOWER(CAST(\"{column}\" AS TEXT)) LIKE {_placeholder()} ESCAPE '\\'"
            )
            _, rows = await connection.execute_query(sql, [pattern])
            if rows[0]["n"]:
                found.append(f"{table}.{column} holds {value!r}")
    return found


def _placeholder() -> str:
    return "$1" if connections.get("default").capabilities.dialect == "postgres" else "?"


def _files_holding(folder: Path, values: list[str], *, since: float) -> list[str]:
    """Files under `folder` written since `since` (and the members of ZIPs) holding a value."""
    found = []
    for path in folder.rglob("*") if folder.exists() else []:
        if not path.is_file() or path.stat().st_mtime < since:
            continue
        data = path.read_bytes()
        texts = [data]
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                texts += [archive.read(name) for name in archive.namelist()]
        for text in texts:
            found += [f"{path} holds {v!r}" for v in values if v.encode() in text]
    return found


async def _dump() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the models, for comparing two moments."""
    connection = connections.get("default")
    dump = {}
    for app in Tortoise.apps.values():
        for model in app.values():
            table = model._meta.db_table
            _, rows = await connection.execute_query(f'SELECT * FROM "{table}"')
            dump[table] = sorted(tuple(str(value) for value in dict(row).values()) for row in rows)
    return dump


async def _departed(made: Everything, settings: Settings) -> None:
    """What the member left besides: a copy of their data (its ZIP), a mail still queued to
    them, a mail asked for their address, an avatar, an audit entry that found them by email,
    and their leaving, whose cooling-off period has passed. Nothing is owed either way any
    more: their parcel was delivered, their payout paid."""
    user = made.user
    await Order.filter(id__in=made.ids["order"]).update(status=OrderStatus.DELIVERED)
    await InvoiceRequest.filter(id__in=made.ids["invoice"]).update(tax_id=TAX_ID)
    staff = await make_user(role="admin")
    for payout_id in made.ids["payout"]:
        await ledger.approve_payout(payout_id, actor=staff, now=datetime.now(UTC))
    exports = settings.var_dir / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("account.json", json.dumps({"name": made.name, "email": made.email}))
    name = f"export-{user.id}-erasure-test.zip"
    (exports / name).write_bytes(archive.getvalue())
    now = datetime.now(UTC)
    await DataExport.create(
        user=user, state=ExportState.READY, requested_at=now, file_name=name, ready_at=now
    )
    await OutboxMessage.create(
        channel="mail", recipient=made.email, subject=f"{made.name}，您的数据已准备好",
        text=f"{made.name} {made.phone}", dedupe_key=f"erasure-test:{user.id}",
        next_attempt_at=now, created_at=now,
    )  # fmt: skip
    await MailRequest.create(kind="reset", email=made.email, locale="zh_CN", created_at=now)
    avatars = settings.var_dir / "media" / "avatars"
    avatars.mkdir(parents=True, exist_ok=True)
    (avatars / f"user-{user.id}-v1-small.jpg").write_bytes(made.name.encode())
    await User.filter(id=user.id).update(avatar_version=1)
    await audit.record(
        actor=None, action="export.members", object_type="member",
        after={"filters": {"q": made.email, "who": made.name}}, now=now,
    )  # fmt: skip
    await User.filter(id=user.id).update(erase_after=now - timedelta(seconds=1))


async def _erased_everything(settings: Settings, provider: PaymentProvider) -> Everything:
    made = await member_who_did_everything(settings, provider)
    await _departed(made, settings)
    await erasure.erase_due(now=datetime.now(UTC), var_dir=settings.var_dir)
    return made


TAX_ID = "91330106MA2KXYZ12Q"  # written on their invoice in _departed


def _values(made: Everything) -> list[str]:
    """What is theirs alone: name, email, numbers, street address, tax id, WeChat ids, bio."""
    return [
        made.name, made.email, made.phone, PHONE_SUBJECT, STREET, TAX_ID, WECHAT_UNIONID,
        OPENID, BIO,
    ]  # fmt: skip


async def test_after_erasure_no_text_column_of_any_table_names_the_departed_member(
    settings: Settings, provider: PaymentProvider
) -> None:
    made = await member_who_did_everything(settings, provider)
    await _departed(made, settings)
    before = await _where_found(_values(made))
    # The search finds them everywhere before (so its silence after means something).
    for place in (
        "accounts_user.email", "accounts_user.bio", "store_order.ship_phone",
        "store_order.ship_address", "store_invoice_request.tax_id", "accounts_audit.after",
        "accounts_identity.subject", "accounts_wechat_openid.openid",
    ):  # fmt: skip
        assert any(found.startswith(place) for found in before), place
    await erasure.erase_due(now=datetime.now(UTC), var_dir=settings.var_dir)
    assert await _where_found(_values(made)) == []


async def test_after_erasure_no_export_file_search_term_or_queued_mail_names_them(
    settings: Settings, provider: PaymentProvider
) -> None:
    started = time.time() - 1
    made = await _erased_everything(settings, provider)
    values = _values(made)
    assert _files_holding(settings.var_dir / "exports", values, since=started) == []
    assert not list((settings.var_dir / "media" / "avatars").glob(f"user-{made.user.id}-*"))
    assert await search.search("post", made.name) == []
    mail = await OutboxMessage.all().values_list("recipient", "subject", "text", "html")
    assert not [row for row in mail if any(v in str(row) for v in values)]


async def test_the_departed_account_row_stays_with_every_personal_field_emptied(
    settings: Settings, provider: PaymentProvider
) -> None:
    made = await _erased_everything(settings, provider)
    user = await User.get(id=made.user.id)
    assert (user.email, user.display_name, user.password_hash, user.bio) == (
        None, ERASED_NAME, "", ""
    )  # fmt: skip
    assert (user.avatar_version, user.ip_region, user.locale) == (0, None, None)
    assert (user.email_verified_at, user.staff_role, user.member_until) == (None, None, None)
    assert user.erased_at is not None
    assert not await Session.filter(user_id=user.id).exists()


async def test_orders_payments_and_audit_ids_remain_detached_from_the_departed(
    settings: Settings, provider: PaymentProvider
) -> None:
    made = await member_who_did_everything(settings, provider)
    await _departed(made, settings)
    [order_id] = made.ids["order"]
    before = await Order.get(id=order_id)
    items = await OrderItem.filter(order_id=order_id).values_list("quantity", "unit_price_fen")
    entries = await AuditEntry.all().order_by("id").values_list("id", "object_type", "object_id")
    await erasure.erase_due(now=datetime.now(UTC), var_dir=settings.var_dir)
    after = await Order.get(id=order_id)
    assert (after.total_fen, after.status, after.created_at, after.paid_at) == (
        before.total_fen, before.status, before.created_at, before.paid_at
    )  # fmt: skip
    assert (after.ship_name, after.ship_phone, after.ship_address) == (None, None, None)
    assert after.user_id == made.user.id  # type: ignore[attr-defined]
    assert (
        await OrderItem.filter(order_id=order_id).values_list("quantity", "unit_price_fen") == items
    )
    assert (
        await AuditEntry.all().order_by("id").values_list("id", "object_type", "object_id")
        == entries
    )
    paid = await Payment.filter(id__in=made.ids["payment"]).values_list("amount_fen", flat=True)
    assert paid == [19_900]


async def test_their_posts_remain_shown_as_by_the_erased_account(
    settings: Settings, provider: PaymentProvider, client: httpx.AsyncClient
) -> None:
    made = await _erased_everything(settings, provider)
    [post_id] = made.ids["post"]
    post = await Post.get(id=post_id)
    assert post.author_id == made.user.id  # type: ignore[attr-defined]
    assert await Reply.filter(id__in=made.ids["reply"]).count() == 1
    assert made.other is not None
    client.cookies.set(*await session_cookie(made.other))
    page = await client.get(links.path("board.post_page", id=post_id))
    assert page.status_code == 200
    assert ERASED_NAME in page.text and made.name not in page.text


async def test_others_notices_that_named_them_now_name_the_erased_account(
    settings: Settings, provider: PaymentProvider
) -> None:
    made = await _erased_everything(settings, provider)
    assert made.other is not None
    [notice] = await Notification.filter(user_id=made.other.id, kind="reply")
    assert notice.params["author"] == ERASED_NAME
    assert made.name not in notice.message


async def test_running_the_erasure_again_changes_nothing(
    settings: Settings, provider: PaymentProvider
) -> None:
    await _erased_everything(settings, provider)
    before = await _dump()
    assert await erasure.erase_due(now=datetime.now(UTC), var_dir=settings.var_dir) == []
    assert await _dump() == before


async def test_a_person_whose_cooling_off_has_not_ended_is_untouched(settings: Settings) -> None:
    now = datetime.now(UTC)
    waiting = await make_user(email="zhen.yinshi@example.cn", name="甄隐士")
    await session_cookie(waiting)
    await User.filter(id=waiting.id).update(erase_after=now + timedelta(days=1))
    assert await erasure.erase_due(now=now, var_dir=settings.var_dir) == []
    user = await User.get(id=waiting.id)
    assert (user.email, user.display_name, user.erased_at) == (
        "zhen.yinshi@example.cn", "甄隐士", None
    )  # fmt: skip
    assert await Session.filter(user_id=user.id).exists()


async def test_a_person_who_undid_leaving_is_untouched(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    stayed = await make_user(email="zhen.yinshi@example.cn", name="甄隐士")
    await accounts_leaving.ask_to_leave(
        stayed, password=PASSWORD, code=None, now=now, days=15, counter=MemoryCounter()
    )
    await accounts_leaving.undo_leaving(await User.get(id=stayed.id), now=now)
    later = now + timedelta(days=16)
    assert await erasure.erase_due(now=later, var_dir=settings.var_dir) == []
    user = await User.get(id=stayed.id)
    assert (user.email, user.display_name, user.erased_at) == (
        "zhen.yinshi@example.cn", "甄隐士", None
    )  # fmt: skip


async def test_two_workers_erasing_at_once_erase_one_person_once(settings: Settings) -> None:
    now = datetime.now(UTC)
    leaving = await make_user(email="zhen.yinshi@example.cn", name="甄隐士")
    await User.filter(id=leaving.id).update(erase_after=now - timedelta(seconds=1))
    results = await asyncio.gather(
        *(erasure.erase_person(leaving.id, now=now, var_dir=settings.var_dir) for _ in range(4))
    )
    assert len([done for done in results if done is not None]) == 1
    assert (await User.get(id=leaving.id)).erased_at == now


async def test_the_retention_purge_deletes_only_a_departed_persons_old_purchases(
    settings: Settings, provider: PaymentProvider
) -> None:
    made = await _erased_everything(settings, provider)
    now = datetime.now(UTC)
    [enrollment_id] = made.ids["enrollment"]
    [enrollment_payment] = made.ids["payment"]
    four_years = now - timedelta(days=4 * 366)
    await Enrollment.filter(id=enrollment_id).update(created_at=four_years)
    await Payment.filter(id=enrollment_payment).update(created_at=four_years)
    purged = await retention.purge_retained(now=now, years=settings.order_retention_years)
    assert (purged.enrollments, purged.payments, purged.grants) == (1, 1, 1)
    assert not await Enrollment.filter(id=enrollment_id).exists()
    assert not await Payment.filter(id=enrollment_payment).exists()
    # The gift of 30 days is this year's: kept; so are the order and its payment (recent).
    assert await MembershipGrant.filter(user_id=made.user.id, enrollment_id=None).exists()
    assert await Order.filter(id__in=made.ids["order"]).exists()
    again = await retention.purge_retained(now=now, years=settings.order_retention_years)
    assert (again.enrollments, again.payments, again.grants) == (0, 0, 0)


async def test_the_retention_purge_keeps_an_old_payment_a_referrers_ledger_names(
    settings: Settings, provider: PaymentProvider
) -> None:
    made = await _erased_everything(settings, provider)
    now = datetime.now(UTC)
    [order_id] = made.ids["order"]
    order = await Order.get(id=order_id)
    four_years = now - timedelta(days=4 * 366)
    await Order.filter(id=order_id).update(created_at=four_years)
    await Payment.filter(id=order.payment_id).update(created_at=four_years)
    purged = await retention.purge_retained(now=now, years=settings.order_retention_years)
    assert (purged.orders, purged.payments, purged.kept_for_ledger) == (0, 0, 1)
    assert await Payment.filter(id=order.payment_id).exists()
    assert await Order.filter(id=order_id).exists()


async def test_the_retention_purge_keeps_the_orders_of_people_not_erased(
    settings: Settings, provider: PaymentProvider
) -> None:
    made = await member_who_did_everything(settings, provider)
    [order_id] = made.ids["order"]
    await Order.filter(id=order_id).update(created_at=datetime.now(UTC) - timedelta(days=4000))
    await retention.purge_retained(now=datetime.now(UTC), years=3)
    assert await Order.filter(id=order_id).exists()


def test_every_table_has_an_erasure_decision(project_root: Path) -> None:
    tables = {model._meta.db_table for app in Tortoise.apps.values() for model in app.values()}
    assert sorted(tables - DECISIONS.keys()) == [], "tables without a decision in DECISIONS"
    assert sorted(DECISIONS.keys() - tables) == [], "DECISIONS names tables that are gone"
    documented = (project_root / "docs" / "privacy.md").read_text(encoding="utf-8")
    assert [table for table in DECISIONS if f"`{table}`" not in documented] == []


def test_every_model_with_a_user_reference_or_a_personal_looking_column_is_decided() -> None:
    """A new model pointing at a person (a foreign key to accounts.User, a *user_id column)
    or with a column that looks personal must be in DECISIONS."""
    personal = ("email", "phone", "name", "address", "body", "text", "reason", "note", "title")
    undecided = []
    for app in Tortoise.apps.values():
        for model in app.values():
            meta = model._meta
            points = any(
                getattr(field, "related_model", None) is User
                or name.endswith(("user_id", "referrer_id", "author_id", "sharer_id"))
                for name, field in meta.fields_map.items()
            )
            looks = any(word in name for name in meta.fields_map for word in personal)
            if (points or looks) and meta.db_table not in DECISIONS:
                undecided.append(meta.db_table)
    assert undecided == []


async def test_their_pictures_to_customer_service_and_share_posters_are_deleted(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    leaving = await make_user(email="zhen.yinshi@example.cn", name="甄隐士")
    staying = await make_user()
    conversation = await Conversation.create(
        user=leaving, first_message_at=now, last_message_at=now
    )
    await Message.create(
        conversation=conversation, author=leaving, from_staff=False, body="甄隐士的照片",
        picture="f00dcafe", created_at=now,
    )  # fmt: skip
    (settings.var_dir / "support").mkdir(parents=True, exist_ok=True)
    picture = settings.var_dir / "support" / "f00dcafe-small.jpg"
    picture.write_bytes(b"jpeg")
    posters = settings.var_dir / "media" / "posters"
    posters.mkdir(parents=True, exist_ok=True)
    theirs = posters / f"poster-1-product-5-{leaving.id}-zh-0123abcd.png"
    others = posters / f"poster-1-product-5-{staying.id}-zh-0123abcd.png"
    for path in (theirs, others):
        path.write_bytes(b"png")
    await User.filter(id=leaving.id).update(erase_after=now - timedelta(seconds=1))
    [done] = await erasure.erase_due(now=now, var_dir=settings.var_dir)
    assert done.files == 2
    assert not picture.exists() and not theirs.exists()
    assert others.exists()
    others.unlink()


async def test_their_share_links_stay_retired_with_the_referrals_made_through_them(
    settings: Settings, provider: PaymentProvider
) -> None:
    made = await member_who_did_everything(settings, provider)
    [link_id] = made.ids["share_link"]
    through = await Referral.filter(link_id=link_id).values_list("id", flat=True)
    assert through  # the friend's purchase, referred by them: the ledger's history
    await _departed(made, settings)
    await erasure.erase_due(now=datetime.now(UTC), var_dir=settings.var_dir)
    link = await ShareLink.get(id=link_id)
    assert not share_links.CODE.fullmatch(link.code)
    assert await Referral.filter(link_id=link_id).values_list("id", flat=True) == through
    assert await LedgerEntry.filter(referrer_id=made.user.id).count() == 2  # credit, payout
    assert not await Touch.filter(referrer_id=made.user.id).exists()


async def test_before_leaving_tells_of_rewards_not_asked_for_and_payouts_pending(
    settings: Settings, provider: PaymentProvider, client: httpx.AsyncClient
) -> None:
    made = await member_who_did_everything(settings, provider)
    [payout_id] = made.ids["payout"]
    [reward_id] = made.ids["ledger"]
    reward = await LedgerEntry.get(id=reward_id)
    later = reward.available_at + timedelta(seconds=1)
    explained = await leaving.before_leaving(made.user, now=later)
    assert [p.id for p in explained.payouts] == [payout_id]
    assert explained.withdrawable_fen == reward.amount_fen - 100
    client.cookies.set(*await session_cookie(made.user))
    page = await client.get(links.path("privacy.leave_page"))
    assert 'id="payouts-pending"' in page.text
