"""Staff roles: owners give and take them, the last owner stays, every change is audited, and
the previous release's admins became owners."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from accounts import services as accounts
from accounts import staff
from accounts.errors import LastOwner
from accounts.models import AuditEntry, User
from accounts.roles import StaffRole
from tests.conftest import database_kind
from tests.factories import bearer, csrf_from, make_user, sign_in, token_for


async def test_an_owner_gives_a_role_and_the_log_says_who_from_what_to_what(
    client: httpx.AsyncClient,
) -> None:
    owner = await make_user(role="owner")
    person = await make_user()
    answer = await client.put(
        f"/api/v1/admin/staff/{person.id}",
        json={"role": "support"},
        headers=bearer(await token_for(owner)),
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "user_id": person.id,
        "email": person.email,
        "display_name": person.display_name,
        "role": "support",
    }
    assert (await User.get(id=person.id)).staff_role == "support"
    entry = await AuditEntry.get(action="staff.role")
    assert (entry.actor_id, entry.object_type, entry.object_id) == (
        owner.id,
        "user",
        str(person.id),
    )  # type: ignore[attr-defined]
    assert (entry.before, entry.after) == ({"role": None}, {"role": "support"})


async def test_null_takes_a_role_away(client: httpx.AsyncClient) -> None:
    owner = await make_user(role="owner")
    person = await make_user(role="moderator")
    answer = await client.put(
        f"/api/v1/admin/staff/{person.id}",
        json={"role": None},
        headers=bearer(await token_for(owner)),
    )
    assert answer.status_code == 200 and answer.json()["role"] is None
    assert not (await User.get(id=person.id)).is_staff


async def test_an_admin_cannot_give_roles(client: httpx.AsyncClient) -> None:
    admin = await make_user(role="admin")
    person = await make_user()
    answer = await client.put(
        f"/api/v1/admin/staff/{person.id}",
        json={"role": "admin"},
        headers=bearer(await token_for(admin)),
    )
    assert answer.status_code == 403
    assert (await User.get(id=person.id)).staff_role is None


async def test_the_last_owner_cannot_be_removed(client: httpx.AsyncClient) -> None:
    owner = await make_user(role="owner")
    answer = await client.put(
        f"/api/v1/admin/staff/{owner.id}",
        json={"role": "admin"},
        headers=bearer(await token_for(owner)),
    )
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "last_owner"
    assert (await User.get(id=owner.id)).staff_role == "owner"
    assert await AuditEntry.all().count() == 0


async def test_a_role_for_nobody_is_404_and_a_role_unknown_is_422(
    client: httpx.AsyncClient,
) -> None:
    owner = await make_user(role="owner")
    token = await token_for(owner)
    missing = await client.put(
        "/api/v1/admin/staff/999999", json={"role": "admin"}, headers=bearer(token)
    )
    assert missing.status_code == 404
    unknown = await client.put(
        f"/api/v1/admin/staff/{owner.id}", json={"role": "king"}, headers=bearer(token)
    )
    assert unknown.status_code == 422


@pytest.mark.skipif(database_kind() != "postgres", reason="concurrent writers: PostgreSQL")
async def test_two_owners_demoting_each_other_at_once_leave_one_owner() -> None:
    first = await make_user(role="owner")
    second = await make_user(role="owner")
    results = await asyncio.gather(
        staff.set_role(actor=first, user_id=second.id, role=StaffRole.ADMIN),
        staff.set_role(actor=second, user_id=first.id, role=StaffRole.ADMIN),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["LastOwner", "User"]
    assert await User.filter(staff_role="owner").count() == 1


async def test_the_staff_page_finds_a_person_and_gives_a_role(client: httpx.AsyncClient) -> None:
    owner = await make_user(role="owner")
    person = await make_user(name="王小明")
    await sign_in(client, owner.email)
    page = await client.get("/admin/staff", params={"q": "王小"})
    assert page.status_code == 200
    assert person.email in page.text
    answer = await client.post(
        f"/admin/staff/{person.id}", data={"role": "moderator", "csrf_token": csrf_from(page.text)}
    )
    assert answer.status_code == 303
    assert (await User.get(id=person.id)).staff_role == "moderator"
    listed = await client.get("/admin/staff")
    assert "王小明" in listed.text


async def test_the_command_line_makes_an_owner_and_the_log_has_no_actor() -> None:
    user = await accounts.create_admin(email="boss@example.cn", password="a long pass phrase 42")
    assert user.staff_role == "owner" and user.is_admin
    entry = await AuditEntry.get(action="staff.role", object_id=str(user.id))
    assert entry.actor_id is None  # type: ignore[attr-defined]


async def test_the_last_owner_rule_holds_in_the_service_too() -> None:
    owner = await make_user(role="owner")
    with pytest.raises(LastOwner):
        await staff.set_role(actor=owner, user_id=owner.id, role=None)


MIGRATE_FROM_PREVIOUS_RELEASE = textwrap.dedent(
    """
    import asyncio, sys
    from tortoise import Tortoise, connections
    from tortoise.migrations.api.migrate import migrate
    from db import tortoise_config

    async def main(url):
        config = tortoise_config(url)
        # The previous release's schema, with rows in it (a column added to a table that has
        # rows needs a default in the database, not only in the model).
        await migrate(config=config, target="accounts.0008_login_codes_and_mail_requests")
        await migrate(config=config, target="store.0011_saved_addresses")
        db = connections.get("default")
        await db.execute_script(
            "INSERT INTO accounts_user (email, display_name, password_hash, is_admin, created_at,"
            " bio, avatar_version) VALUES ('old@example.cn', 'Old', 'x', 1, '2026-01-01', '', 0),"
            " ('reader@example.cn', 'R', 'x', 0, '2026-01-01', '', 0);"
            "INSERT INTO store_category (name, position) VALUES ('书', 0);"
            "INSERT INTO store_product (title, description, category_id, price_fen, stock,"
            " requires_shipping, members_only, member_head_start_minutes,"
            " raffle_purchase_minutes, created_at) VALUES ('旧书', '', 1, 100, 0, 1, 0, 0, 60,"
            " '2026-01-01')"
        )
        await Tortoise.close_connections()
        await migrate(config=config)
        db = connections.get("default")
        rows = await db.execute_query_dict(
            "SELECT email, staff_role, is_admin FROM accounts_user ORDER BY email"
        )
        print(sorted((r["email"], r["staff_role"], bool(r["is_admin"])) for r in rows))
        products = await db.execute_query_dict("SELECT title, published FROM store_product")
        print([(r["title"], bool(r["published"])) for r in products])
        await Tortoise.close_connections()

    asyncio.run(main(sys.argv[1]))
    """
)


def test_the_previous_release_upgrades_admins_to_owners_and_keeps_products_published(
    tmp_path: Path,
) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", MIGRATE_FROM_PREVIOUS_RELEASE, f"sqlite://{tmp_path}/old.sqlite3"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    users, products = done.stdout.strip().splitlines()[-2:]
    assert users == "[('old@example.cn', 'owner', True), ('reader@example.cn', None, False)]"
    assert products == "[('旧书', True)]"  # the products already there stay published


async def test_support_finds_people_and_a_member_may_not(client: httpx.AsyncClient) -> None:
    support = await make_user(role="support")
    person = await make_user(email="lisi@example.cn", name="李四")
    await sign_in(client, support.email)
    for query in ("lisi@", "李", str(person.id)):
        page = await client.get("/admin/people", params={"q": query})
        assert page.status_code == 200 and "lisi@example.cn" in page.text, query
    odd = await client.get("/admin/people", params={"q": "²"})  # a digit int() refuses
    assert odd.status_code == 200
    member = await make_user()
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    await sign_in(other, member.email)
    assert (await other.get("/admin/people", params={"q": "lisi"})).status_code == 403
    await other.aclose()
