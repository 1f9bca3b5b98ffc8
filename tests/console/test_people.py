"""A person's page in the console and its API: every section for a seeded person, the one
search (email, name, delivery phone, member card, account number) with its pages, what each
role may read and write, and the bounds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import msgspec

from accounts import notices
from accounts.models import AuditEntry, User
from community.board import moderation
from community.board import services as board
from console import schemas
from crm import notes as crm_notes
from crm import people
from crm.models import PersonNote
from membership.grants import grant_complimentary
from membership.models import Member
from payments.services import PaymentChoice
from ratelimit import MemoryCounter
from store import services as store
from tests.factories import (
    address,
    bearer,
    csrf_from,
    make_member,
    make_member_without_email,
    make_user,
    make_users,
    sign_in,
    token_for,
)
from tests.payments.memory_provider import MemoryProvider


@dataclass
class Seeded:
    admin: User
    person: User
    reporter: User
    member_number: str


async def seeded_person() -> Seeded:
    """A shopper and member who posts on the board: an order paid, a complimentary grant, a
    post reported by someone else, a board ban, a notice, a staff note and a tag."""
    now = datetime.now(UTC)
    admin = await make_user(role="admin", name="管理员甲")
    person = await make_user(email="zhaoliu@example.cn", name="赵六")
    product = await store.create_product(
        title="读书笔记本", description="", category="文具", price_fen=990, stock=5, actor=admin
    )
    order = await store.place_order(
        buyer=person,
        items=[store.Wanted(product_id=product.id, quantity=2)],
        now=now,
        counter=MemoryCounter(),
        shipping=address(),  # the phone 13812345678
    )
    await store.pay_order(
        provider=MemoryProvider("pays"),
        order_id=order.id,
        user=person,
        choice=PaymentChoice(payment_method="pm_seed"),
        now=now,
    )
    person = await grant_complimentary(user_id=person.id, days=30, now=now, actor=admin)
    post, _ = await board.create_post(
        author=person,
        category="knowledge",
        title="我的读书笔记",
        body="分享",
        counter=MemoryCounter(),
        now=now,
    )
    reporter = await make_member(name="举报人")
    await moderation.report(post.id, reporter=reporter, reason="像是广告", now=now)
    await moderation.ban(person.id, days=7, reason="刷屏三次", now=now, actor=admin)
    await notices.notify(person.id, kind="welcome", params={"name": "赵六"}, now=now)
    await crm_notes.add_note(author=admin, user_id=person.id, body="电话里说想改收货地址", now=now)
    await crm_notes.add_tag(actor=admin, user_id=person.id, name="老读者", now=now)
    member = await Member.get(user_id=person.id)
    return Seeded(admin, person, reporter, f"SY-{member.id:06d}")


def signed_in_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Another browser on the same app."""
    return httpx.AsyncClient(transport=client._transport, base_url="http://testserver")


async def test_the_page_shows_each_section_of_a_person(client: httpx.AsyncClient) -> None:
    seeded = await seeded_person()
    await sign_in(client, seeded.admin.email)
    page = await client.get(f"/admin/people/{seeded.person.id}")
    assert page.status_code == 200
    for shown in (
        "zhaoliu@example.cn",
        seeded.member_number,
        "读书笔记本 × 2",  # the order, its item
        "¥19.80",  # its total, and the payment
        "赠送",  # the complimentary grant
        "管理员甲",  # who granted it, who wrote the note
        "我的读书笔记",  # the post
        "像是广告",  # the report against it
        "举报人",
        "刷屏三次",  # the ban
        "欢迎",  # the welcome notice, in Chinese
        "电话里说想改收货地址",  # the note
        "老读者",  # the tag
    ):
        assert shown in page.text, shown
    assert 'id="orders"' in page.text and 'id="payments"' in page.text


async def test_the_api_gives_the_page_in_its_declared_shape(client: httpx.AsyncClient) -> None:
    seeded = await seeded_person()
    answer = await client.get(
        f"/api/v1/admin/people/{seeded.person.id}", headers=bearer(await token_for(seeded.admin))
    )
    assert answer.status_code == 200
    data = answer.json()
    msgspec.convert(data, schemas.PersonPage)  # the shape the contract declares
    assert set(data) == {field.name for field in msgspec.structs.fields(schemas.PersonPage)}
    assert data["profile"]["member_number"] == seeded.member_number
    assert data["profile"]["created_at"].endswith("Z")
    assert data["sign_in"]["methods"] == ["password"]
    assert [(o["total_fen"], o["status"]) for o in data["orders"]] == [(1980, "paid")]
    assert data["orders"][0]["items"][0]["title"] == "读书笔记本"
    assert [(p["purpose"], p["status"], p["amount_fen"]) for p in data["payments"]] == [
        ("order", "succeeded", 1980)
    ]
    grant = data["membership"]["grants"][0]
    assert (grant["source"], grant["days"], grant["granted_by_id"]) == (
        "complimentary",
        30,
        seeded.admin.id,
    )
    assert data["membership"]["refunds"] == []
    assert data["board"]["posts"][0]["title"] == "我的读书笔记"
    assert data["board"]["posts"][0]["category_name"] == "知识分享"
    assert data["board"]["reports_against"][0]["reporter_id"] == seeded.reporter.id
    assert data["board"]["ban"]["reason"] == "刷屏三次" and data["board"]["ban"]["active"]
    assert "welcome" in [n["kind"] for n in data["notices"]]
    assert [n["body"] for n in data["notes"]] == ["电话里说想改收货地址"]
    assert data["tags"] == ["老读者"]
    assert data["activity"]["last_active_day"] is None


async def test_a_person_is_found_by_email_name_phone_member_number_and_id(
    client: httpx.AsyncClient,
) -> None:
    seeded = await seeded_person()
    number = int(seeded.member_number.removeprefix("SY-"))
    token = await token_for(seeded.admin)
    for text in (
        "zhaoliu@",
        "赵",
        "138 1234 5678",
        "+86 138-1234-5678",
        seeded.member_number,
        seeded.member_number.lower(),
        f"SY{number}",
        f"{number:06d}",
        str(seeded.person.id),
    ):
        answer = await client.get("/api/v1/admin/people", params={"q": text}, headers=bearer(token))
        assert answer.status_code == 200, text
        assert seeded.person.id in [p["id"] for p in answer.json()["items"]], text
    nobody = await client.get(
        "/api/v1/admin/people", params={"q": "13900000000"}, headers=bearer(token)
    )
    assert nobody.json() == {"items": [], "next_cursor": None}
    await sign_in(client, seeded.admin.email)
    page = await client.get("/admin/people", params={"q": "13812345678"})
    assert f'href="/admin/people/{seeded.person.id}"' in page.text


async def test_the_search_pages_newest_first_by_cursor(client: httpx.AsyncClient) -> None:
    admin = await make_user(role="support")
    crowd = await make_users(23, prefix="paged")
    token = await token_for(admin)
    first = (
        await client.get("/api/v1/admin/people", params={"q": "paged"}, headers=bearer(token))
    ).json()
    assert [p["id"] for p in first["items"]] == [u.id for u in reversed(crowd)][:20]
    second = (
        await client.get(
            "/api/v1/admin/people",
            params={"q": "paged", "cursor": first["next_cursor"]},
            headers=bearer(token),
        )
    ).json()
    assert [p["id"] for p in second["items"]] == [u.id for u in reversed(crowd)][20:]
    assert second["next_cursor"] is None
    found, next_cursor = await people.find_people("paged", cursor=None, limit=23)
    assert len(found) == 23 and next_cursor is None
    await sign_in(client, admin.email)
    page = await client.get("/admin/people", params={"q": "paged"})
    assert f"cursor={first['next_cursor']}" in page.text


async def test_support_reads_and_writes_staff_notes_but_not_admins_notes_nor_tags(
    client: httpx.AsyncClient,
) -> None:
    seeded = await seeded_person()
    secret = await crm_notes.add_note(
        author=seeded.admin,
        user_id=seeded.person.id,
        body="只给管理员看的备注",
        visibility="admins",
        now=datetime.now(UTC),
    )
    support = await make_user(role="support")
    token = bearer(await token_for(support))
    shown = await client.get(f"/api/v1/admin/people/{seeded.person.id}", headers=token)
    assert shown.status_code == 200
    assert secret.id not in [n["id"] for n in shown.json()["notes"]]
    assert shown.json()["orders"] is not None  # support reads orders and payments
    written = await client.post(
        f"/api/v1/admin/people/{seeded.person.id}/notes", json={"body": "已回电"}, headers=token
    )
    assert written.status_code == 201
    assert (written.json()["visibility"], written.json()["author_id"]) == ("staff", support.id)
    for_admins = await client.post(
        f"/api/v1/admin/people/{seeded.person.id}/notes",
        json={"body": "想藏起来", "visibility": "admins"},
        headers=token,
    )
    assert for_admins.status_code == 403  # a right, not a field
    tagged = await client.post(
        f"/api/v1/admin/people/{seeded.person.id}/tags", json={"name": "VIP"}, headers=token
    )
    assert tagged.status_code == 403
    hidden = await client.put(
        f"/api/v1/admin/notes/{secret.id}", json={"visibility": "staff"}, headers=token
    )
    assert hidden.status_code == 403
    await sign_in(client, support.email)
    page = await client.get(f"/admin/people/{seeded.person.id}")
    assert "已回电" in page.text and "只给管理员看的备注" not in page.text
    assert 'name="tag"' not in page.text  # no tag forms


async def test_a_moderator_sees_no_orders_or_payments(client: httpx.AsyncClient) -> None:
    seeded = await seeded_person()
    moderator = await make_user(role="moderator")
    answer = await client.get(
        f"/api/v1/admin/people/{seeded.person.id}", headers=bearer(await token_for(moderator))
    )
    data = answer.json()
    assert (data["orders"], data["payments"], data["membership"]["refunds"]) == (None, None, None)
    assert data["board"]["ban"]["reason"] == "刷屏三次"
    await sign_in(client, moderator.email)
    page = await client.get(f"/admin/people/{seeded.person.id}")
    assert page.status_code == 200
    assert 'id="orders"' not in page.text and 'id="payments"' not in page.text


async def test_an_admin_writes_an_admins_only_note_changes_its_readers_and_tags(
    client: httpx.AsyncClient,
) -> None:
    seeded = await seeded_person()
    token = bearer(await token_for(seeded.admin))
    path = f"/api/v1/admin/people/{seeded.person.id}"
    written = await client.post(
        f"{path}/notes", json={"body": "退款纠纷中", "visibility": "admins"}, headers=token
    )
    assert written.status_code == 201 and written.json()["visibility"] == "admins"
    changed = await client.put(
        f"/api/v1/admin/notes/{written.json()['id']}", json={"visibility": "staff"}, headers=token
    )
    assert changed.status_code == 200 and changed.json()["visibility"] == "staff"
    tagged = await client.post(f"{path}/tags", json={"name": "讲师"}, headers=token)
    assert tagged.status_code == 200 and tagged.json() == {"tags": ["老读者", "讲师"]}
    untagged = await client.delete(f"{path}/tags/老读者", headers=token)
    assert untagged.status_code == 200 and untagged.json() == {"tags": ["讲师"]}
    actions = await AuditEntry.filter(object_id=str(seeded.person.id)).values_list(
        "action", flat=True
    )
    assert {"note.create", "note.visibility", "tag.add", "tag.remove"} <= set(actions)


async def test_the_page_forms_add_a_note_change_its_readers_and_tag(
    client: httpx.AsyncClient,
) -> None:
    seeded = await seeded_person()
    await sign_in(client, seeded.admin.email)
    path = f"/admin/people/{seeded.person.id}"
    page = await client.get(path)
    csrf = csrf_from(page.text)
    added = await client.post(
        f"{path}/notes", data={"body": "只给管理员", "visibility": "admins", "csrf_token": csrf}
    )
    assert added.status_code == 303 and added.headers["location"] == path
    note = await PersonNote.get(body="只给管理员")
    assert note.visibility == "admins"
    changed = await client.post(
        f"/admin/notes/{note.id}/visibility", data={"visibility": "staff", "csrf_token": csrf}
    )
    assert changed.status_code == 303 and changed.headers["location"] == path
    assert (await PersonNote.get(id=note.id)).visibility == "staff"
    tagged = await client.post(f"{path}/tags", data={"tag": "讲师", "csrf_token": csrf})
    assert tagged.status_code == 303
    removed = await client.post(f"{path}/tags/remove", data={"tag": "老读者", "csrf_token": csrf})
    assert removed.status_code == 303
    assert await crm_notes.tags_of(seeded.person.id) == ["讲师"]
    after = await client.get(path)
    assert "已移除标签" in after.text  # the last flash, in Chinese
    assert '<option value="讲师">' in after.text  # the known tags' list


async def test_bounds_a_long_note_and_an_unknown_person(client: httpx.AsyncClient) -> None:
    seeded = await seeded_person()
    token = bearer(await token_for(seeded.admin))
    long = await client.post(
        f"/api/v1/admin/people/{seeded.person.id}/notes", json={"body": "长" * 3000}, headers=token
    )
    assert long.status_code == 422
    assert long.json()["error"]["code"] == "invalid_field"
    assert (await client.get("/api/v1/admin/people/999999", headers=token)).status_code == 404
    unknown_note = await client.post(
        "/api/v1/admin/people/999999/notes", json={"body": "谁"}, headers=token
    )
    assert unknown_note.status_code == 404
    too_long_tag = await client.delete(
        f"/api/v1/admin/people/{seeded.person.id}/tags/{'签' * 31}", headers=token
    )
    assert too_long_tag.status_code == 422
    await sign_in(client, seeded.admin.email)
    assert (await client.get("/admin/people/999999")).status_code == 404
    path = f"/admin/people/{seeded.person.id}"
    csrf = csrf_from((await client.get(path)).text)
    for form in (
        {"body": "长" * 3000},
        {"body": "a\x00b"},
        {"body": "好", "visibility": "everyone"},
    ):
        refused = await client.post(f"{path}/notes", data={**form, "csrf_token": csrf})
        assert refused.status_code == 303 and refused.headers["location"] == path
    odd_tag = await client.post(f"{path}/tags", data={"tag": "x\x00", "csrf_token": csrf})
    assert odd_tag.status_code == 303
    assert await PersonNote.filter(user_id=seeded.person.id).count() == 1
    assert await crm_notes.tags_of(seeded.person.id) == ["老读者"]
    page = await client.get(path)
    assert "正文：最多 2000 个字符" in page.text  # each reason, in Chinese
    assert "可见范围：不是允许的取值" in page.text


async def test_the_page_of_a_member_without_email_opens_with_its_ways_in(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_user(role="owner")
    person = await make_member_without_email()
    await sign_in(client, admin.email or "")
    page = await client.get(f"/admin/people/{person.id}")
    assert page.status_code == 200
    assert "无邮箱" in page.text and "手机号" in page.text
    assert ">None<" not in page.text
    found = await client.get("/admin/people", params={"q": person.display_name})
    assert found.status_code == 200 and person.display_name in found.text
    answer = await client.get(
        f"/api/v1/admin/people/{person.id}", headers=bearer(await token_for(admin))
    )
    data = msgspec.convert(answer.json(), schemas.PersonPage)
    assert data.profile.email is None
    assert data.sign_in.methods == ["phone"]
