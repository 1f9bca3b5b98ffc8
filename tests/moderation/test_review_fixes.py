"""What a second reading of content review found, each kept from coming back: a word hidden
inside a censored one, a name of nothing but ■, an avatar decided after its owner changed it,
the words of a sign-up listed for free."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from accounts.models import AvatarState, User
from moderation import words
from moderation.models import ReviewItem, ReviewStatus
from tests.factories import PASSWORD, bearer, make_member, make_user, token_for
from tests.moderation.test_avatar_review import picture

POSTS = "/api/v1/board/posts"
QUEUE = "/api/v1/admin/review-queue"


async def watch(action: str, *found: str) -> None:
    await words.add_words(action, list(found), actor=None, now=datetime.now(UTC))


async def test_a_blocked_word_cannot_hide_around_a_censored_one(client: httpx.AsyncClient) -> None:
    await watch("block", "法轮")
    await watch("censor", "赌博")
    author = bearer(await token_for(await make_member()))
    post = {"category": "knowledge", "title": "读书", "body": "法赌博轮"}
    refused = await client.post(POSTS, json=post, headers=author)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "blocked_words")
    assert refused.json()["error"]["words"] == ["法轮"]
    person = bearer(await token_for(await make_user()))
    name = await client.patch("/api/v1/me", json={"display_name": "法赌博轮"}, headers=person)
    assert (name.status_code, name.json()["error"]["code"]) == (422, "blocked_words")
    # A WeChat nickname is softened until nothing is left to hide.
    softened = await words.censor_refusals("法赌博轮")
    assert softened is not None and not (await words.verdict(softened)).matches


async def test_a_name_of_nothing_but_hidden_words_is_refused(client: httpx.AsyncClient) -> None:
    await watch("censor", "赌博")
    person = bearer(await token_for(await make_user()))
    refused = await client.patch("/api/v1/me", json={"display_name": "赌博"}, headers=person)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "display_name"


async def test_a_decision_on_an_avatar_is_about_the_picture_the_moderator_saw(
    client: httpx.AsyncClient,
) -> None:
    """A young account's second upload while the first waits closes the first's item: a
    moderator who decides on what they saw is answered 409, and the new one waits anew."""
    person = await make_user()
    headers = bearer(await token_for(person))
    moderator = bearer(await token_for(await make_user(role="moderator")))
    for _ in range(2):
        sent = await client.post(
            "/api/v1/me/avatar",
            files={"avatar": ("me.png", picture(), "image/png")},
            headers=headers,
        )
        assert sent.status_code == 200
        if _ == 0:
            [seen] = (await client.get(QUEUE, headers=moderator)).json()["items"]
    late = await client.post(
        f"{QUEUE}/{seen['id']}/decision", json={"approve": True}, headers=moderator
    )
    assert (late.status_code, late.json()["error"]["code"]) == (409, "already_decided")
    assert (await User.get(id=person.id)).avatar_state == AvatarState.WAITING
    waiting = await ReviewItem.filter(kind="avatar", status=ReviewStatus.WAITING)
    assert len(waiting) == 1 and waiting[0].id != seen["id"]


async def test_a_sign_up_is_limited_before_its_name_is_checked(client: httpx.AsyncClient) -> None:
    """Watched words must not be listed for free through sign-ups: past the address's limit,
    a name with one is answered 429 like any other."""
    await watch("block", "法轮")
    answers = []
    for n in range(22):
        answer = await client.post(
            "/api/v1/accounts",
            json={"email": f"probe{n}@example.cn", "password": PASSWORD, "display_name": "法轮"},
        )
        answers.append(answer.status_code)
    assert answers[0] == 422 and 429 in answers


async def test_a_reported_profile_or_reply_taken_down_tells_its_owner(
    client: httpx.AsyncClient,
) -> None:
    from accounts.models import Notification

    subject = await make_user(name="官方客服小王")
    reporter = bearer(await token_for(await make_member()))
    made = await client.post(
        "/api/v1/reports",
        json={"object_type": "profile", "object_id": subject.id, "reason": "冒充官方"},
        headers=reporter,
    )
    assert made.status_code == 201
    moderator = bearer(await token_for(await make_user(role="moderator")))
    taken = await client.post(
        "/api/v1/admin/reports/decision",
        json={
            "object_type": "profile",
            "object_id": subject.id,
            "action": "take_down",
            "note": "请勿冒充官方。",
        },
        headers=moderator,
    )
    assert taken.status_code == 200
    person = await User.get(id=subject.id)
    assert person.display_name.startswith("书友") and person.bio == ""
    told = await Notification.get(user_id=subject.id, kind="profile_reset")
    assert "请勿冒充官方。" in told.message
