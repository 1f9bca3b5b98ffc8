"""A forgotten password: the mail arrives through a real SMTP server, its link works once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from accounts import outbox, requested_mail
from accounts.mail import Mailer
from accounts.models import ApiToken, PasswordReset
from settings import Settings
from tests.factories import PASSWORD, bearer, csrf_from, make_user, sign_in, token_for
from tests.smtp import SmtpServer, text_of

NEW_PASSWORD = "a fresh and long passphrase 42"
LINK = re.compile(r"(https?://\S+/account/reset/([A-Za-z0-9_-]+))")


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path / "Maildir")
    server.start()
    yield server
    server.stop()


async def mailed_link(smtp: SmtpServer) -> tuple[str, str, str]:
    """Deliver the outbox, and the reset link of the one mail that arrived (url, token, text)."""
    await requested_mail.send_due(now=datetime.now(UTC))  # the job's first step
    await outbox.deliver_due(Mailer(smtp.url, "noreply@shuyuan.test"), now=datetime.now(UTC))
    # Registering mailed a verification link too: the reset is the one with a reset link.
    [text] = [text_of(mail) for mail in smtp.received() if LINK.search(text_of(mail))]
    match = LINK.search(text)
    assert match, text
    return match.group(1), match.group(2), text


async def test_a_reset_mail_sets_a_new_password_once_and_ends_every_session(
    client: httpx.AsyncClient, smtp: SmtpServer, settings: Settings
) -> None:
    user = await make_user(email="forgetful@example.cn")
    token = await token_for(user)
    asked = await client.post(
        "/api/v1/password-resets",
        json={"email": "Forgetful@example.cn"},
        headers={"Accept-Language": "en"},
    )
    assert asked.status_code == 202
    url, reset_token, text = await mailed_link(smtp)
    assert url.startswith(settings.public_url)  # never the request's Host header
    assert "within an hour" in text  # in the asker's language
    done = await client.post(
        f"/api/v1/password-resets/{reset_token}", json={"password": NEW_PASSWORD}
    )
    assert done.status_code == 204
    again = await client.post(
        f"/api/v1/password-resets/{reset_token}", json={"password": NEW_PASSWORD + "!"}
    )
    assert again.status_code == 410
    assert again.json()["error"]["code"] == "reset_expired"
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
    assert await ApiToken.filter(user_id=user.id, revoked_at=None).count() == 0
    assert (await sign_in(client, "forgetful@example.cn", NEW_PASSWORD)).status_code == 303


async def test_an_unknown_email_gets_the_same_answer_and_no_mail(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    asked = await client.post("/api/v1/password-resets", json={"email": "nobody@example.cn"})
    assert asked.status_code == 202
    await outbox.deliver_due(Mailer(smtp.url, "noreply@shuyuan.test"), now=datetime.now(UTC))
    assert smtp.received() == []


async def test_an_expired_link_is_410_and_a_made_up_one_404(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    user = await make_user(email="late@example.cn")
    await client.post("/api/v1/password-resets", json={"email": "late@example.cn"})
    _, reset_token, _ = await mailed_link(smtp)
    await PasswordReset.filter(user_id=user.id).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    expired = await client.post(
        f"/api/v1/password-resets/{reset_token}", json={"password": NEW_PASSWORD}
    )
    assert expired.status_code == 410 and expired.json()["error"]["code"] == "reset_expired"
    assert (await client.get(f"/account/reset/{reset_token}")).status_code == 410
    for token in ("x" * 43, "short"):
        answer = await client.post(
            f"/api/v1/password-resets/{token}", json={"password": NEW_PASSWORD}
        )
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "reset_not_found"


async def test_resets_are_limited_per_email_whether_or_not_it_exists(
    client: httpx.AsyncClient,
) -> None:
    answers = [
        (await client.post("/api/v1/password-resets", json={"email": "a@example.cn"})).status_code
        for _ in range(4)
    ]
    assert answers == [202, 202, 202, 429]


async def test_the_pages_ask_for_a_link_and_set_the_password(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await make_user(email="pages@example.cn")
    login = await client.get("/account/login")
    assert 'href="/account/forgot"' in login.text
    form = await client.get("/account/forgot")
    sent = await client.post(
        "/account/forgot",
        data={"email": "pages@example.cn", "csrf_token": csrf_from(form.text)},
        headers={"Accept-Language": "zh-CN"},
    )
    assert sent.status_code == 200 and "链接" in sent.text
    _, reset_token, text = await mailed_link(smtp)
    assert "一小时内" in text
    page = await client.get(f"/account/reset/{reset_token}")
    assert page.status_code == 200
    weak = await client.post(
        f"/account/reset/{reset_token}",
        data={"password": "123", "csrf_token": csrf_from(page.text)},
    )
    assert weak.status_code == 422  # the form again, the link still good
    done = await client.post(
        f"/account/reset/{reset_token}",
        data={"password": NEW_PASSWORD, "csrf_token": csrf_from(weak.text)},
    )
    assert done.status_code == 303 and done.headers["location"] == "/account/login"
    assert (await sign_in(client, "pages@example.cn", PASSWORD)).status_code != 303
    assert (await sign_in(client, "pages@example.cn", NEW_PASSWORD)).status_code == 303
