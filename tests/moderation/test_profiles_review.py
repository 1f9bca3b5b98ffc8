"""Watched words on what a person says of themselves (issue 38), through the API and the pages:
a blocked word in a display name or bio is refused naming it (beside the field on a page); a
censored one is kept as ■; a word that requires approval is refused too, asking for other
words (a name is shown at once and cannot wait); a flag word is saved and queued, and a
rejection resets the name to a neutral one, clears the bio and tells the person. A WeChat
nickname is censored, never refused: the first sign-in goes through."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette

from accounts.models import AuditEntry, Notification, User
from moderation import words
from moderation.models import ReviewItem, ReviewStatus
from tests.accounts.test_wechat_sign_in import browser, first_sign_in_on_a_computer
from tests.factories import PASSWORD, bearer, csrf_from, make_user, sign_in, token_for

ME = "/api/v1/me"
QUEUE = "/api/v1/admin/review-queue"
NEUTRAL_NAME = re.compile(r"书友\d{4}")


async def watch(action: str, *found: str) -> None:
    await words.add_words(action, list(found), actor=None, now=datetime.now(UTC))


async def test_a_blocked_word_in_a_display_name_is_refused_naming_it(
    client: httpx.AsyncClient,
) -> None:
    await watch("block", "法轮")
    person = await make_user(name="小林")
    refused = await client.patch(ME, json={"display_name": "法@輪大师"}, headers=bearer(
        await token_for(person)))  # fmt: skip
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert (error["code"], error["words"], error["field"]) == (
        "blocked_words",
        ["法轮"],
        "display_name",
    )
    assert (await User.get(id=person.id)).display_name == "小林"
    # Registering with it is refused the same way, and nobody is made.
    registered = await client.post(
        "/api/v1/accounts",
        json={"email": "fa@example.cn", "password": PASSWORD, "display_name": "法轮"},
    )
    assert (registered.status_code, registered.json()["error"]["code"]) == (422, "blocked_words")
    assert not await User.filter(email="fa@example.cn").exists()


async def test_the_profile_page_shows_a_blocked_word_beside_its_field(
    client: httpx.AsyncClient,
) -> None:
    await watch("block", "赌场")
    person = await make_user(name="小周")
    await sign_in(client, person.email)
    form = await client.get("/account/profile")
    refused = await client.post(
        "/account/profile",
        data={"csrf_token": csrf_from(form.text), "display_name": "小周", "bio": "常去赌场"},
    )
    assert refused.status_code == 422
    beside = re.search(r'<small class="error" id="bio-error">([^<]+)</small>', refused.text)
    assert beside is not None and "赌场" in beside.group(1)
    assert "常去赌场" in refused.text  # what was typed, kept to correct
    assert (await User.get(id=person.id)).bio == ""


async def test_the_registration_page_shows_a_blocked_name_beside_its_field(
    client: httpx.AsyncClient,
) -> None:
    await watch("block", "法轮")
    form = await client.get("/account/register")
    refused = await client.post(
        "/account/register",
        data={
            "csrf_token": csrf_from(form.text),
            "email": "new@example.cn",
            "display_name": "法轮弟子",
            "password": PASSWORD,
        },
    )
    assert refused.status_code == 422
    beside = re.search(
        r'<small class="error" id="display_name-error">([^<]+)</small>', refused.text
    )
    assert beside is not None and "法轮" in beside.group(1)
    assert not await User.filter(email="new@example.cn").exists()


async def test_a_censored_word_in_a_bio_is_kept_as_squares(client: httpx.AsyncClient) -> None:
    await watch("censor", "傻瓜")
    token = bearer(await token_for(await make_user()))
    changed = await client.patch(ME, json={"bio": "别当傻傻瓜瓜。读书去。"}, headers=token)
    assert changed.status_code == 200
    assert changed.json()["bio"] == "别当■■■■。读书去。"
    assert await ReviewItem.all().count() == 0  # censored, not queued


async def test_a_word_that_needs_approval_refuses_a_name_asking_for_other_words(
    client: httpx.AsyncClient,
) -> None:
    await watch("require_approval", "代开发票")
    person = await make_user(name="小吴")
    refused = await client.patch(
        ME, json={"display_name": "代開發票小吴"}, headers=bearer(await token_for(person))
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert (error["code"], error["words"], error["field"]) == (
        "words_need_approval",
        ["代开发票"],
        "display_name",
    )
    assert "choose other words" in error["message"] or "请换用其他词" in error["message"]
    assert (await User.get(id=person.id)).display_name == "小吴"
    assert await ReviewItem.all().count() == 0  # nothing waits: it was not kept
    # On the page, in the reader's language, beside the field.
    await sign_in(client, person.email)
    form = await client.get("/account/profile")
    page = await client.post(
        "/account/profile",
        data={"csrf_token": csrf_from(form.text), "display_name": "代开发票", "bio": ""},
    )
    assert page.status_code == 422
    beside = re.search(r'<small class="error" id="display_name-error">([^<]+)</small>', page.text)
    assert beside is not None and "请换用其他词" in beside.group(1)


async def test_a_flagged_name_is_saved_and_queued_and_a_rejection_resets_it(
    client: httpx.AsyncClient,
) -> None:
    await watch("flag", "加微信")
    person = await make_user(name="小郑")
    token = bearer(await token_for(person))
    changed = await client.patch(
        ME, json={"display_name": "小郑加微信", "bio": "加 微 信聊"}, headers=token
    )
    assert changed.status_code == 200
    assert (changed.json()["display_name"], changed.json()["bio"]) == ("小郑加微信", "加 微 信聊")
    moderator = bearer(await token_for(await make_user(role="moderator")))
    [item] = (await client.get(QUEUE, headers=moderator)).json()["items"]
    assert (item["kind"], item["object_id"], item["reason"], item["words"]) == (
        "profile",
        person.id,
        "flagged",
        ["加微信"],
    )
    assert "小郑加微信" in item["excerpt"] and item["picture_url"] is None

    rejected = await client.post(
        f"{QUEUE}/{item['id']}/decision",
        json={"approve": False, "note": "请不要在昵称里留联系方式。"},
        headers=moderator,
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    reset = await User.get(id=person.id)
    assert NEUTRAL_NAME.fullmatch(reset.display_name) and reset.bio == ""
    told = await Notification.get(user_id=person.id, kind="profile_reset")
    assert "请不要在昵称里留联系方式。" in told.message and "小郑加微信" in told.message
    assert told.link == f"/people/{person.id}"
    audited = await AuditEntry.get(action="review.reject")
    assert (audited.object_type, audited.object_id) == ("profile", str(person.id))


async def test_a_flagged_bio_approved_stays_and_nobody_is_told(client: httpx.AsyncClient) -> None:
    await watch("flag", "加微信")
    person = await make_user(name="小冯")
    assert (
        await client.patch(ME, json={"bio": "加微信"}, headers=bearer(await token_for(person)))
    ).status_code == 200
    # An unchanged name is not checked again (it passed when it was given).
    again = await client.patch(
        ME, json={"display_name": "小冯", "bio": "加微信"}, headers=bearer(await token_for(person))
    )
    assert again.status_code == 200
    moderator = bearer(await token_for(await make_user(role="moderator")))
    [item] = (await client.get(QUEUE, headers=moderator)).json()["items"]
    approved = await client.post(
        f"{QUEUE}/{item['id']}/decision", json={"approve": True}, headers=moderator
    )
    assert approved.status_code == 200
    kept = await User.get(id=person.id)
    assert (kept.display_name, kept.bio) == ("小冯", "加微信")
    assert not await Notification.filter(user_id=person.id, kind__startswith="review").exists()
    assert await ReviewItem.filter(status=ReviewStatus.WAITING).count() == 0


@pytest.fixture
async def web(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(app) as client:
        yield client


async def test_a_wechat_nickname_with_a_blocked_word_is_censored_and_the_sign_in_goes_through(
    web: httpx.AsyncClient, wechat_url: str
) -> None:
    await watch("block", "法轮")
    await watch("require_approval", "代购")
    page = await first_sign_in_on_a_computer(web, wechat_url, "法轮代购小王")
    assert 'value="■■■■小王"' in page.text  # offered censored, never refused
    created = await web.post(
        "/account/wechat/finish",
        data={"csrf_token": csrf_from(page.text), "display_name": "■■■■小王"},
    )
    assert created.status_code == 303
    assert await User.filter(display_name="■■■■小王").exists()
    # What the person types there is theirs, and checked as any name is.
    other = await first_sign_in_on_a_computer(web, wechat_url, "王熙凤")
    refused = await web.post(
        "/account/wechat/finish",
        data={"csrf_token": csrf_from(other.text), "display_name": "法轮凤姐"},
    )
    assert refused.status_code == 422
    assert 'id="display_name-error"' in refused.text


async def test_a_wechat_nickname_that_is_nothing_but_watched_words_gets_a_neutral_name(
    web: httpx.AsyncClient, wechat_url: str
) -> None:
    await watch("block", "法轮")
    page = await first_sign_in_on_a_computer(web, wechat_url, "法轮")
    offered = re.search(r'name="display_name" type="text" value="([^"]*)"', page.text)
    assert offered is not None and NEUTRAL_NAME.fullmatch(offered.group(1))
