"""Young accounts' avatars (issue 38): an avatar uploaded by an account younger than
SHUYUAN_AVATAR_REVIEW_DAYS is kept but waits for a moderator. Others see the default picture
(and cannot guess the waiting file's address); its owner sees it marked "awaiting review";
the review queue shows the picture; approving shows it to everyone, rejecting removes it and
tells the owner. An older account's is shown at once, and the setting at 0 turns this off."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import UTC, datetime, timedelta

import httpx
from PIL import Image

from accounts.models import AvatarState, Notification, User
from accounts.profiles import shown_avatar_key
from app import create_app
from composition import AppWiring
from moderation.models import ReviewItem
from settings import Settings
from tests.factories import bearer, csrf_from, make_member, make_user, sign_in, token_for

QUEUE = "/api/v1/admin/review-queue"


def picture() -> bytes:
    image = Image.new("RGB", (300, 300), (40, 120, 90))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def upload(client: httpx.AsyncClient, person: User) -> httpx.Response:
    answer = await client.post(
        "/api/v1/me/avatar",
        files={"avatar": ("me.png", picture(), "image/png")},
        headers=bearer(await token_for(person)),
    )
    assert answer.status_code == 200, answer.text
    return answer


def public_path(person: User, size: str = "large") -> str:
    return f"/media/avatars/user-{person.id}-v1-{size}.jpg"


async def profile_as(client: httpx.AsyncClient, viewer: User, person: User) -> str:
    client.cookies.clear()
    await sign_in(client, viewer.email)
    page = await client.get(f"/people/{person.id}")
    assert page.status_code == 200
    return page.text


async def older(person: User, days: int = 30) -> None:
    await User.filter(id=person.id).update(created_at=datetime.now(UTC) - timedelta(days=days))


async def test_a_young_accounts_avatar_waits_until_a_moderator_approves_it(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    owner = await make_member(name="新人")
    # The suite empties the database between tests, not the media folder: an earlier test's
    # person with this id may have left a shown picture under the public name.
    for stale in (settings.var_dir / "media" / "avatars").glob(f"user-{owner.id}-*"):
        stale.unlink()
    uploaded = (await upload(client, owner)).json()
    assert uploaded["avatar_pending_review"] is True
    own = uploaded["avatar_url"]
    assert re.fullmatch(rf"/media/avatars/user-{owner.id}-v1-[0-9a-f]{{20}}-large\.jpg", own)
    assert (await client.get(own)).status_code == 200  # its owner sees it
    assert shown_avatar_key(await User.get(id=owner.id)) is None  # nor on a poster
    # Nobody else does: the default picture, and the address everyone's has is not there.
    reader = await make_member()
    seen = await profile_as(client, reader, owner)
    assert own not in seen and f"/avatars/user-{owner.id}-" not in seen
    assert 'class="avatar large initial"' in seen
    assert (await client.get(public_path(owner))).status_code == 404
    # Its owner sees it on their pages, marked.
    mine = await profile_as(client, owner, owner)
    assert own in mine and "等待审核" in mine
    edit = (await client.get("/account/profile")).text
    assert own.replace("-large", "-small") in edit and 'id="avatar-review"' in edit

    moderator = await make_user(role="moderator")
    queue = (await client.get(QUEUE, headers=bearer(await token_for(moderator)))).json()
    [item] = queue["items"]
    assert (item["kind"], item["object_id"], item["reason"], item["excerpt"]) == (
        "avatar",
        owner.id,
        "new_avatar",
        "",
    )
    assert item["picture_url"] == own
    client.cookies.clear()
    await sign_in(client, moderator.email)
    page = await client.get("/admin/review")
    assert f'<img class="avatar large" src="{own}"' in page.text

    decided = await client.post(
        f"/admin/review/{item['id']}/decision",
        data={"csrf_token": csrf_from(page.text), "decision": "approve", "note": ""},
    )
    assert decided.status_code == 303
    assert f'src="{public_path(owner)}"' in await profile_as(client, reader, owner)
    assert (await client.get(public_path(owner))).status_code == 200
    assert (await client.get(own)).status_code == 404  # renamed, not copied
    assert shown_avatar_key(await User.get(id=owner.id)) is not None
    told = await Notification.get(user_id=owner.id, kind="avatar_approved")
    assert told.link == "/account/profile"
    me = (await client.get("/api/v1/me", headers=bearer(await token_for(owner)))).json()
    assert me["avatar_pending_review"] is False and me["avatar_url"] == public_path(owner)


async def test_a_rejected_avatar_is_removed_and_its_owner_told_why(
    client: httpx.AsyncClient,
) -> None:
    owner = await make_member(name="新人")
    own = (await upload(client, owner)).json()["avatar_url"]
    moderator = bearer(await token_for(await make_user(role="moderator")))
    [item] = (await client.get(QUEUE, headers=moderator)).json()["items"]
    rejected = await client.post(
        f"{QUEUE}/{item['id']}/decision",
        json={"approve": False, "note": "头像含有广告。"},
        headers=moderator,
    )
    assert rejected.status_code == 200
    assert (await client.get(own)).status_code == 404  # its files are gone
    kept = await User.get(id=owner.id)
    assert (kept.avatar_version, kept.avatar_state) == (1, AvatarState.REMOVED)
    told = await Notification.get(user_id=owner.id, kind="avatar_removed")
    assert "头像含有广告。" in told.message
    me = (await client.get("/api/v1/me", headers=bearer(await token_for(owner)))).json()
    assert me["avatar_url"] is None and me["avatar_pending_review"] is False
    # The next one waits again, under a version never used before.
    again = (await upload(client, owner)).json()
    assert again["avatar_pending_review"] is True and "-v2-" in again["avatar_url"]


async def test_an_older_accounts_avatar_is_shown_at_once(client: httpx.AsyncClient) -> None:
    owner = await make_member(name="老友")
    await older(owner)
    uploaded = (await upload(client, owner)).json()
    assert uploaded["avatar_pending_review"] is False
    assert uploaded["avatar_url"] == public_path(owner)
    seen = await profile_as(client, await make_member(), owner)
    assert f'src="{public_path(owner)}"' in seen
    assert await ReviewItem.all().count() == 0


async def test_the_setting_at_zero_shows_every_avatar_at_once(
    settings: Settings, wired: AppWiring
) -> None:
    app = create_app(
        dataclasses.replace(settings, avatar_review_days=0),
        manage_database=False,
        background_tasks=False,
        wired=wired,
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            owner = await make_member(name="新人")
            uploaded = (await upload(client, owner)).json()
            assert uploaded["avatar_pending_review"] is False
            assert uploaded["avatar_url"] == public_path(owner)
            assert await ReviewItem.all().count() == 0
    finally:
        await app.state.counter.aclose()
        await app.state.payments_provider.aclose()
        app.state.pictures.close()
