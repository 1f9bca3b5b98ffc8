"""Profiles: a bio and an avatar (a real picture, cut square by Pillow), shown on the person's
page and beside their board posts and replies; an @mention links to the person."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
from PIL import Image

from accounts.models import User
from tests.factories import bearer, make_member, make_user, sign_in, token_for


def picture(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height), (180, 60, 40))
    for x in range(width // 3):
        for y in range(height):
            image.putpixel((x, y), (20, 90, 160))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def test_a_profile_with_bio_and_avatar_is_shown_beside_posts_and_linked_from_mentions(
    client: httpx.AsyncClient,
) -> None:
    author = await make_member(name="林夕")
    # A member of a month: a younger account's avatar waits for a moderator first
    # (tests/moderation/test_profiles_review.py).
    await User.filter(id=author.id).update(created_at=datetime.now(UTC) - timedelta(days=30))
    token = bearer(await token_for(author))
    changed = await client.patch(
        "/api/v1/me", json={"bio": "读书，写字。\n在北京。"}, headers=token
    )
    assert changed.status_code == 200 and changed.json()["bio"] == "读书，写字。\n在北京。"
    uploaded = await client.post(
        "/api/v1/me/avatar",
        files={"avatar": ("me.png", picture(800, 500), "image/png")},
        headers=token,
    )
    assert uploaded.status_code == 200
    avatar = uploaded.json()["avatar_url"]
    served = await client.get(avatar)
    assert served.status_code == 200
    with Image.open(io.BytesIO(served.content)) as seen:
        assert seen.format == "JPEG" and seen.size == (256, 256)

    friend = await make_member(name="阿青")
    post = await client.post(
        "/api/v1/board/posts",
        json={"category": "knowledge", "title": "读书会", "body": "欢迎 @阿青 一起来。"},
        headers=token,
    )
    assert post.status_code == 201
    assert f'<a href="/people/@{quote("阿青")}"' in post.json()["body_html"]
    await sign_in(client, friend.email)
    page = await client.get(f"/board/posts/{post.json()['id']}")
    assert f'href="/people/{author.id}"' in page.text
    assert f"/media/avatars/user-{author.id}-v1-small.jpg" in page.text
    found = await client.get(f"/people/@{quote('阿青')}")
    assert found.status_code == 302 and found.headers["location"] == f"/people/{friend.id}"
    profile = await client.get(f"/people/{author.id}")
    assert "读书，写字。" in profile.text and "林夕" in profile.text
    assert (await client.get("/people/999999")).status_code == 404


async def test_a_bad_avatar_or_bio_is_refused_and_nothing_is_kept(
    client: httpx.AsyncClient,
) -> None:
    person = await make_user()
    token = bearer(await token_for(person))
    not_a_picture = await client.post(
        "/api/v1/me/avatar",
        files={"avatar": ("x.png", b"GIF89a nonsense", "image/png")},
        headers=token,
    )
    assert not_a_picture.status_code == 422
    assert not_a_picture.json()["error"]["field"] == "avatar"
    hidden = await client.patch("/api/v1/me", json={"bio": "hi\u202eevil"}, headers=token)
    assert hidden.status_code == 422
    both = await client.patch(
        "/api/v1/me", json={"bio": "hi\u202eevil", "display_name": "书院"}, headers=token
    )
    assert both.status_code == 422
    assert {e["field"] for e in both.json()["error"]["errors"]} == {"bio", "display_name"}
    me = (await client.get("/api/v1/me", headers=token)).json()
    assert me["bio"] == "" and me["avatar_url"] is None


async def test_an_avatar_larger_than_a_form_is_taken_up_to_its_own_limit(
    client: httpx.AsyncClient,
) -> None:
    """A phone's picture is often over the 512 KiB a form may send: the avatar's own limit
    (4 MiB) applies, on the API and on the profile page."""
    member = await make_member()
    noisy = Image.frombytes("RGB", (640, 640), random.Random(7).randbytes(640 * 640 * 3))
    out = io.BytesIO()
    noisy.save(out, "PNG")
    large = out.getvalue()
    assert 512 * 1024 < len(large) < 4 * 1024 * 1024
    uploaded = await client.post(
        "/api/v1/me/avatar",
        files={"avatar": ("me.png", large, "image/png")},
        headers=bearer(await token_for(member)),
    )
    assert uploaded.status_code == 200, uploaded.text
    too_large = await client.post(
        "/api/v1/me/avatar",
        files={"avatar": ("me.png", large * 5, "image/png")},
        headers=bearer(await token_for(member)),
    )
    assert too_large.status_code == 413
