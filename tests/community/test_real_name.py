"""The real-name rule (SHUYUAN_REQUIRE_VERIFIED_MOBILE): when on, posting and replying wait for
a verified mobile number on the account, in the API and on the pages alike; when off, they do
not."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from accounts.models import User
from tests.factories import (
    bearer,
    csrf_from,
    make_member,
    make_member_without_email,
    sign_in,
    token_for,
)

POSTS = "/api/v1/board/posts"
NEW_POST = {"category": "knowledge", "title": "实名之后", "body": "正文"}


@pytest.fixture
def real_names(app: Starlette) -> Starlette:
    """The app with the rule on."""
    app.state.settings = dataclasses.replace(app.state.settings, require_verified_mobile=True)
    return app


async def a_post(client: httpx.AsyncClient) -> int:
    """A post by a member who signed up with their number, for the others to reply to."""
    author = await make_member_without_email()
    headers = bearer(await token_for(author))
    posted = await client.post(POSTS, json=NEW_POST, headers=headers)
    assert posted.status_code == 201
    return int(posted.json()["id"])


def last_code(sms_folder: Path, phone: str) -> str:
    """The code the SMS stand-in last delivered to `phone` (11 digits)."""
    texts = [json.loads(path.read_text("utf-8")) for path in sorted(sms_folder.glob("*.json"))]
    found = re.search(r"验证码为(\d{6})", [m["text"] for m in texts if m["phone"] == phone][-1])
    assert found
    return found.group(1)


async def link_phone(client: httpx.AsyncClient, sms_folder: Path, phone: str) -> None:
    """Link `phone` to the signed-in account as a person does: the number, then the code
    texted to it."""
    token = csrf_from((await client.get("/account/phone/add")).text)
    await client.post("/account/phone/add", data={"phone": phone, "csrf_token": token})
    code = last_code(sms_folder, phone)
    linked = await client.post(
        "/account/phone/add", data={"phone": phone, "code": code, "csrf_token": token}
    )
    assert linked.status_code == 303


async def test_without_a_verified_mobile_posting_and_replying_are_refused_when_the_rule_is_on(
    real_names: Starlette, client: httpx.AsyncClient
) -> None:
    post_id = await a_post(client)
    member = await make_member()
    headers = bearer(await token_for(member))

    from_api = [
        await client.post(POSTS, json=NEW_POST, headers=headers),
        await client.post(f"{POSTS}/{post_id}/replies", json={"body": "我也说"}, headers=headers),
        # Refused before the text is read, as every refusal is.
        await client.post(POSTS, json={"title": ""}, headers=headers),
    ]
    assert [answer.status_code for answer in from_api] == [403, 403, 403]
    assert {answer.json()["error"]["code"] for answer in from_api} == {"mobile_required"}

    await sign_in(client, member.email or "")
    new_page = await client.get("/board/new")
    post_page = await client.get(f"/board/posts/{post_id}")
    for page in (new_page, post_page):
        assert 'id="mobile-required"' in page.text and "/account/phone/add" in page.text
    assert 'action="/board/posts"' not in new_page.text  # the form is replaced
    assert 'id="reply-form"' not in post_page.text
    token = csrf_from(post_page.text)
    as_json = {"Accept": "application/json", "X-CSRF-Token": token}
    from_pages = [
        await client.post("/board/posts", data=NEW_POST, headers=as_json),
        await client.post(
            f"/board/posts/{post_id}/replies", data={"body": "我也说"}, headers=as_json
        ),
    ]
    assert [answer.status_code for answer in from_pages] == [403, 403]
    assert {answer.json()["error"]["code"] for answer in from_pages} == {"mobile_required"}
    # Liking publishes nothing: it is not held back.
    liked = await client.post(f"{POSTS}/{post_id}/like", json={"liked": True}, headers=headers)
    assert liked.status_code == 200


async def test_staff_are_held_to_the_rule_too(
    real_names: Starlette, client: httpx.AsyncClient
) -> None:
    moderator = await make_member(role="moderator")
    refused = await client.post(POSTS, json=NEW_POST, headers=bearer(await token_for(moderator)))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "mobile_required"


async def test_with_a_verified_mobile_posting_and_replying_are_allowed_when_the_rule_is_on(
    real_names: Starlette, client: httpx.AsyncClient, sms_gateway: tuple[str, Path]
) -> None:
    member = await make_member()
    await sign_in(client, member.email or "")
    await link_phone(client, sms_gateway[1], "13712340001")
    page = await client.get("/board/new")
    assert 'id="mobile-required"' not in page.text and 'action="/board/posts"' in page.text

    created = await client.post(
        "/board/posts", data={**NEW_POST, "csrf_token": csrf_from(page.text)}
    )
    assert created.status_code == 303
    post_url = created.headers["location"]
    post_page = await client.get(post_url)
    assert 'id="reply-form"' in post_page.text
    replied = await client.post(
        f"{post_url}/replies", data={"body": "页面回复", "csrf_token": csrf_from(post_page.text)}
    )
    assert replied.status_code == 303

    headers = bearer(await token_for(member))
    assert (
        await client.post(POSTS, json=NEW_POST | {"title": "接口"}, headers=headers)
    ).status_code == 201
    post_id = int(post_url.rsplit("/", 1)[1])
    reply = await client.post(
        f"{POSTS}/{post_id}/replies", json={"body": "接口回复"}, headers=headers
    )
    assert reply.status_code == 201


async def test_without_a_verified_mobile_posting_and_replying_are_allowed_when_the_rule_is_off(
    client: httpx.AsyncClient,
) -> None:
    member = await make_member()
    assert not await User.filter(id=member.id, identities__kind="phone").exists()
    headers = bearer(await token_for(member))
    posted = await client.post(POSTS, json=NEW_POST, headers=headers)
    assert posted.status_code == 201
    replied = await client.post(
        f"{POSTS}/{posted.json()['id']}/replies", json={"body": "无需手机号"}, headers=headers
    )
    assert replied.status_code == 201
    await sign_in(client, member.email or "")
    assert 'id="mobile-required"' not in (await client.get("/board/new")).text


async def test_an_edit_is_held_to_the_rule_like_a_new_post(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """A post written before the rule was switched on cannot be rewritten without a verified
    mobile afterwards: an edit publishes new text too."""
    member = await make_member()
    headers = bearer(await token_for(member))
    posted = await client.post(POSTS, json=NEW_POST, headers=headers)
    assert posted.status_code == 201
    app.state.settings = dataclasses.replace(app.state.settings, require_verified_mobile=True)
    edited = await client.patch(
        f"{POSTS}/{posted.json()['id']}",
        json={"title": "改过", "body": "新的正文"},
        headers=headers,
    )
    assert (edited.status_code, edited.json()["error"]["code"]) == (403, "mobile_required")
