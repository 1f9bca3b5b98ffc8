"""A member's copy of their data (PIPL art. 45, issue 39): the ZIP holds every kind of data,
each with the member's own values and nothing of anyone else; its link is its owner's alone and
expires; the job writes each copy once; and no table about people escapes the export's list."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tortoise import Tortoise

from accounts.models import Notification, OutboxMessage, User
from payments.provider import PaymentProvider
from privacy import contents, export
from privacy.models import DataExport, ExportState
from settings import Settings
from storage import STORAGE
from tests.factories import bearer, make_user, make_user_without_email, session_cookie, token_for
from tests.privacy import everything
from tests.privacy.everything import member_who_did_everything

NOW = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)


async def written(settings: Settings, user: User, now: datetime = NOW) -> DataExport:
    """`user`'s copy, asked for and written by the job."""
    asked = await export.request_export(user, now)
    await export.write_pending(var_dir=settings.var_dir, link_hours=72, now=now)
    return await DataExport.get(id=asked.id)


async def files_of(made: DataExport) -> dict[str, Any]:
    assert made.file_name is not None
    data = await STORAGE.get().get(export.key_of(made.file_name))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name: archive.read(name).decode()
            if name.endswith(".txt")
            else json.loads(archive.read(name))
            for name in archive.namelist()
        }


async def signed_in(client: httpx.AsyncClient, user: User) -> None:
    name, value = await session_cookie(user)
    client.cookies.set(name, value)


def token_of(made: DataExport) -> str:
    assert made.file_name is not None
    return export.link_token(made.file_name)


async def test_the_copy_of_the_member_who_did_everything_holds_each_kind_with_their_data(
    settings: Settings, provider: PaymentProvider
) -> None:
    member = await member_who_did_everything(settings, provider)
    files = await files_of(await written(settings, member.user, datetime.now(UTC)))
    assert set(files) == {"README.txt", *(part.file for part in contents.PARTS)}
    readme = files["README.txt"]
    assert readme.index("书院") < readme.index("Shuyuan") and "银行卡" in readme
    assert "card details" in readme

    assert files["account.json"]["account"]["email"] == everything.EMAIL
    assert files["profile.json"]["profile"]["display_name"] == everything.NAME
    assert files["profile.json"]["profile"]["bio"] == everything.BIO
    ways = files["sign_in_methods.json"]
    assert {(i["kind"], i["subject"]) for i in ways["identities"]} == {
        ("phone", everything.PHONE_SUBJECT),
        ("wechat", everything.WECHAT_UNIONID),
    }
    assert ways["wechat_openids"][0]["openid"] == "openid-yanqiu-0001"
    sessions = files["sessions.json"]
    assert sessions["sessions"] and all("key_hash" not in s for s in sessions["sessions"])
    assert [t["name"] for t in sessions["api_tokens"]] == [everything.TOKEN_NAME]
    assert all("token_hash" not in t for t in sessions["api_tokens"])
    consents = files["consents.json"]
    assert sorted((c["purpose"], c["granted"]) for c in consents["consents"]) == [
        ("broadcast", True),
        ("cross_border", True),
    ]
    membership = files["membership.json"]
    assert [e["id"] for e in membership["enrollments"]] == member.ids["enrollment"]
    assert [g["days"] for g in membership["grants"] if g["source"] != "enrollment"] == [30]
    assert membership["card"] and membership["window_reminders"]

    orders = files["orders.json"]
    [order] = orders["orders"]
    assert order["id"] == member.ids["order"][0]
    assert (order["ship_name"], order["ship_phone"]) == (everything.NAME, everything.PHONE)
    assert order["items"] and order["items"][0]["quantity"] == 1 and order["events"]
    [invoice] = orders["invoice_requests"]
    assert (invoice["order_id"], invoice["title"]) == (order["id"], everything.INVOICE_TITLE)
    assert [a["address"] for a in orders["saved_addresses"]] == ["灵隐路 7 号 砚秋书斋"]
    payments = files["payments.json"]["payments"]
    assert {p["status"] for p in payments} == {"succeeded"} and len(payments) == 2
    assert all("client_secret" not in p for p in payments)

    [post] = files["posts.json"]["posts"]
    assert (post["title"], post["body"]) == (everything.POST_TITLE, everything.POST_EDITED)
    assert [r["body"] for r in post["revisions"]] == [everything.POST_BODY]
    assert [r["body"] for r in files["replies.json"]["replies"]] == [everything.REPLY_BODY]
    assert len(files["likes.json"]["likes"]) == 1
    notices = files["notices.json"]["notices"]
    assert any(n["kind"] == "reply" and everything.POST_TITLE in n["text"] for n in notices), (
        notices
    )
    [conversation] = files["conversations.json"]["conversations"]
    assert [m["body"] for m in conversation["messages"]] == [everything.SUPPORT_BODY]
    referrals = files["referrals.json"]
    assert [s["id"] for s in referrals["share_links"]] == member.ids["share_link"]
    assert referrals["referrals_made"] and referrals["referred_by"]
    assert [e["id"] for e in referrals["ledger"]] == member.ids["ledger"]
    # Whom they referred is not theirs: not the friend's account, order or payment.
    made = referrals["referrals_made"]
    assert [sorted({"subject_id", "payment_id", "referred_id"} & row.keys()) for row in made] == [
        [] for _ in made
    ]
    assert all({"kind", "created_at", "amount_fen"} <= row.keys() for row in made)
    assert all("payment_id" not in entry for entry in referrals["ledger"])
    assert [p["amount_fen"] for p in referrals["payouts"]] == [100]
    assert [r["reason"] for r in files["reports.json"]["reports"]] == [everything.REPORT_REASON]
    about = files["about_you.json"]
    assert [n["body"] for n in about["staff_notes"]] == [everything.STAFF_NOTE]
    assert about["tags"]

    everything_written = json.dumps(files, ensure_ascii=False)
    assert member.other is not None and member.other.email is not None
    for theirs in (
        member.other.email,
        "在孤山脚下。",
        "白鹿洞值得一去。",
        "中关村大街",
        "13700000000",
    ):
        assert theirs not in everything_written, theirs
    for secret in ("password_hash", "argon2", "key_hash", "token_hash", "client_secret"):
        assert secret not in everything_written, secret


async def test_the_member_is_told_by_mail_with_a_link_that_downloads_their_zip(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await make_user(email="yu@example.cn")
    user.email_verified_at = NOW
    await user.save(update_fields=["email_verified_at"])
    made = await written(settings, user, datetime.now(UTC))
    assert made.state == ExportState.READY and made.token_hash == export.token_digest(
        token_of(made)
    )
    [mail] = await OutboxMessage.filter(recipient="yu@example.cn", dedupe_key__startswith="privacy")
    link = f"/me/data/exports/{token_of(made)}"
    assert link in mail.text
    await signed_in(client, user)
    response = await client.get(link)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    assert "account.json" in zipfile.ZipFile(io.BytesIO(response.content)).namelist()


async def test_an_account_without_an_email_is_told_in_the_inbox(settings: Settings) -> None:
    user = await make_user_without_email()
    await written(settings, user)
    [notice] = await Notification.filter(user_id=user.id, kind="data_export_ready")
    assert notice.link == "/me/data"
    assert not await OutboxMessage.exists(dedupe_key__startswith="privacy")


async def test_another_person_cannot_download_a_copy_even_with_its_link(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    owner = await make_user()
    made = await written(settings, owner, datetime.now(UTC))
    await signed_in(client, await make_user())
    response = await client.get(f"/me/data/exports/{token_of(made)}")
    assert response.status_code == 404
    assert (await client.get("/me/data/exports/" + "x" * 43)).status_code == 404


async def test_the_link_expires_and_the_job_deletes_its_file(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await make_user()
    now = datetime.now(UTC)
    made = await written(settings, user, now)
    assert made.file_name is not None and made.expires_at == now + timedelta(hours=72)
    key = export.key_of(made.file_name)
    await signed_in(client, user)
    link = f"/me/data/exports/{token_of(made)}"
    assert (await client.get(link)).status_code == 200
    assert await export.expire_old(now=made.expires_at) == 1
    assert not await STORAGE.get().exists(key)
    assert (await DataExport.get(id=made.id)).state == ExportState.EXPIRED
    gone = await client.get(link)
    assert gone.status_code == 410 and "过期" in gone.text


async def test_the_job_writes_each_copy_once_however_many_run_at_once(
    settings: Settings,
) -> None:
    users = [await make_user() for _ in range(3)]
    for user in users:
        await export.request_export(user, NOW)
    await asyncio.gather(
        *(export.write_pending(var_dir=settings.var_dir, link_hours=72, now=NOW) for _ in range(4))
    )
    rows = await DataExport.filter(user_id__in=[u.id for u in users])
    assert [(r.state, r.attempts) for r in rows] == [(ExportState.READY, 1)] * 3
    assert await Notification.filter(kind="data_export_ready").count() == 3  # told once each
    files = {r.file_name for r in rows}
    assert all([await STORAGE.get().exists(export.key_of(name)) for name in files if name])


async def test_asking_again_answers_the_copy_in_progress_then_one_an_hour(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await make_user()
    headers = bearer(await token_for(user))
    first = await client.post("/api/v1/me/export", headers=headers)
    assert first.status_code == 202
    assert first.json()["state"] == "pending" and first.json()["told_by"] == "inbox"
    again = await client.post("/api/v1/me/export", headers=headers)
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    await export.write_pending(var_dir=settings.var_dir, link_hours=72, now=datetime.now(UTC))
    soon = await client.post("/api/v1/me/export", headers=headers)
    assert soon.status_code == 429 and soon.json()["error"]["code"] == "export_too_soon"
    assert int(soon.headers["retry-after"]) > 3000
    listed = await client.get("/api/v1/me/exports", headers=headers)
    assert [(e["id"], e["state"]) for e in listed.json()["items"]] == [
        (first.json()["id"], "ready")
    ]
    assert (await client.post("/api/v1/me/export")).status_code == 401


async def test_a_new_copy_expires_the_one_before(settings: Settings) -> None:
    user = await make_user()
    first = await written(settings, user, NOW)
    second = await written(settings, user, NOW + timedelta(hours=2))
    assert second.id != first.id and second.state == ExportState.READY
    assert first.file_name is not None
    assert (await DataExport.get(id=first.id)).state == ExportState.EXPIRED
    assert not await STORAGE.get().exists(export.key_of(first.file_name))


async def test_the_page_asks_for_a_copy_and_then_offers_its_link(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from tests.factories import csrf_from

    user = await make_user()
    await signed_in(client, user)
    account = await client.get("/account")
    assert "/me/data" in account.text
    page = await client.get("/me/data")
    assert page.status_code == 200 and "orders.json" in page.text
    asked = await client.post("/me/data/exports", data={"csrf_token": csrf_from(page.text)})
    assert asked.status_code == 303
    assert 'data-export-state="pending"' in (await client.get("/me/data")).text
    await export.write_pending(var_dir=settings.var_dir, link_hours=72, now=datetime.now(UTC))
    ready = (await client.get("/me/data")).text
    made = await DataExport.get(user_id=user.id)
    assert f"/me/data/exports/{token_of(made)}" in ready


def _refers_to_a_person(model: Any, column: str) -> bool:
    for name in model._meta.fk_fields | model._meta.o2o_fields:
        field = model._meta.fields_map[name]
        if field.source_field == column or f"{name}_id" == column:
            return bool(field.related_model.__name__ == "User")
    return column.endswith(("user_id", "_by_id")) or column in {
        f"{who}_id" for who in ("author", "referrer", "referred", "reporter", "sharer", "actor")
    }


def test_every_column_that_refers_to_a_person_is_exported_or_left_out_with_a_reason() -> None:
    covered = {
        (source.model, source.column) for part in contents.PARTS for source in part.sources
    } | {
        (child.model, "author_id")
        for part in contents.PARTS
        for source in part.sources
        for child in source.children
        if "author_id" in child.drop
    }
    found = set()
    for app, models in Tortoise.apps.items():
        for name, model in models.items():
            for column in model._meta.fields_db_projection:
                if name != "User" and _refers_to_a_person(model, column):
                    found.add((f"{app}.{name}", column))
    missing = found - covered - set(contents.LEFT_OUT)
    assert not missing, f"neither exported nor left out with a reason: {sorted(missing)}"
    assert not (set(contents.LEFT_OUT) - found), "left out, but no longer there"
    assert all(contents.LEFT_OUT.values())
