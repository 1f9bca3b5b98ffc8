"""A stranger's wrong passwords on the owner's address do not lock the owner out (device tokens),
an untrusted browser there may still sign in with a mailed code, and learning who has an
account costs what guessing a password costs (sign-up limits, resets answered by a job)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from accounts import outbox, requested_mail
from accounts import services as accounts
from accounts.devices import CODE_TRIES, FAILED_LOGINS_PER_DEVICE, WRONG_CODES_PER_PAIR
from accounts.mail import Mailer
from accounts.models import MailRequest, PasswordReset
from accounts.services import FAILED_LOGINS_PER_ACCOUNT, SIGNUPS_PER_ADDRESS
from tests.factories import PASSWORD, csrf_from, make_user
from tests.smtp import SmtpServer, text_of

NAT = "203.0.113.50"
NEW_PASSWORD = (
    "a brand new and long passphrase"  # one carrier address shared by the owner and a stranger
)


def from_address(app: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def get_token(
    client: httpx.AsyncClient, email: str, password: str, **extra: str
) -> httpx.Response:
    return await client.post("/api/v1/tokens", json={"email": email, "password": password, **extra})


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path / "Maildir")
    server.start()
    yield server
    server.stop()


async def deliver(smtp: SmtpServer) -> list[str]:
    """Run the mail job's two steps; the texts of every mail received so far."""
    await requested_mail.send_due(now=datetime.now(UTC))
    await outbox.deliver_due(Mailer(smtp.url, "noreply@shuyuan.test"), now=datetime.now(UTC))
    return [text_of(mail) for mail in smtp.received()]


async def test_the_owners_known_device_signs_in_after_a_strangers_failures_on_its_address(
    app: Starlette,
) -> None:
    await make_user(email="owner@example.cn")
    async with from_address(app, NAT) as owner:
        first = await get_token(owner, "owner@example.cn", PASSWORD)
        assert first.status_code == 201
        device_token = first.json()["device_token"]
    async with from_address(app, NAT) as stranger:
        for _ in range(FAILED_LOGINS_PER_ACCOUNT.attempts):
            assert (await get_token(stranger, "owner@example.cn", "a guess")).status_code == 401
        throttled = await get_token(stranger, "owner@example.cn", PASSWORD)
        assert throttled.status_code == 429  # even the right password, without a device
        assert throttled.json()["error"]["code_by_mail"] is True
    async with from_address(app, NAT) as owner:
        again = await get_token(owner, "owner@example.cn", PASSWORD, device_token=device_token)
        assert again.status_code == 201, again.text
        assert again.json()["device_token"] == device_token
        # A device token of another account buys nothing here.
        await make_user(email="other@example.cn")
        other = await get_token(owner, "other@example.cn", PASSWORD)
        borrowed = other.json()["device_token"]
        refused = await get_token(owner, "owner@example.cn", PASSWORD, device_token=borrowed)
        assert refused.status_code == 429


async def test_a_known_device_that_keeps_failing_is_stopped_itself(app: Starlette) -> None:
    await make_user(email="owner@example.cn")
    async with from_address(app, NAT) as owner:
        device_token = (await get_token(owner, "owner@example.cn", PASSWORD)).json()["device_token"]
        for _ in range(FAILED_LOGINS_PER_DEVICE.attempts):
            wrong = await get_token(owner, "owner@example.cn", "typo", device_token=device_token)
            assert wrong.status_code == 401
        stopped = await get_token(owner, "owner@example.cn", PASSWORD, device_token=device_token)
        assert stopped.status_code == 429
        assert int(stopped.headers["Retry-After"]) > 0
    # Another address, without the device, is not held back by that device's failures alone.
    async with from_address(app, "198.51.100.9") as elsewhere:
        assert (await get_token(elsewhere, "owner@example.cn", PASSWORD)).status_code == 201


async def test_the_browser_keeps_its_device_cookie_and_signs_in_on_a_throttled_address(
    app: Starlette,
) -> None:
    await make_user(email="owner@example.cn")
    async with from_address(app, NAT) as browser:
        page = await browser.get("/account/login")
        signed_in = await browser.post(
            "/account/login",
            data={
                "email": "owner@example.cn",
                "password": PASSWORD,
                "csrf_token": csrf_from(page.text),
            },
        )
        assert signed_in.status_code == 303
        assert browser.cookies.get("sy_device", path="/account")
        await browser.post(
            "/account/logout", data={"csrf_token": csrf_from((await browser.get("/account")).text)}
        )
        async with from_address(app, NAT) as stranger:
            for _ in range(FAILED_LOGINS_PER_ACCOUNT.attempts + 1):
                await get_token(stranger, "owner@example.cn", "a guess")
        page = await browser.get("/account/login")
        again = await browser.post(
            "/account/login",
            data={
                "email": "owner@example.cn",
                "password": PASSWORD,
                "csrf_token": csrf_from(page.text),
            },
        )
        assert again.status_code == 303


async def test_an_untrusted_browser_on_a_throttled_address_signs_in_with_a_mailed_code(
    app: Starlette, smtp: SmtpServer
) -> None:
    await make_user(email="owner@example.cn")
    async with from_address(app, NAT) as stranger:
        for _ in range(FAILED_LOGINS_PER_ACCOUNT.attempts):
            await get_token(stranger, "owner@example.cn", "a guess")
    async with from_address(app, NAT) as browser:
        page = await browser.get("/account/login", headers={"Accept-Language": "en"})
        form = {
            "email": "owner@example.cn",
            "password": PASSWORD,
            "csrf_token": csrf_from(page.text),
        }
        refused = await browser.post("/account/login", data=form, headers={"Accept-Language": "en"})
        assert refused.status_code == 429
        assert 'action="/account/login/code"' in refused.text
        asked = await browser.post(
            "/account/login/code",
            data={"email": "owner@example.cn", "csrf_token": csrf_from(refused.text)},
            headers={"Accept-Language": "en"},
        )
        assert asked.status_code == 200 and 'name="code"' in asked.text
        [mail] = [
            text for text in await deliver(smtp) if "sign-in" in text.lower() or "code" in text
        ]
        code = re.search(r"\b(\d{6})\b", mail)
        assert code, mail
        wrong = {**form, "csrf_token": csrf_from(asked.text), "code": other_than(code.group(1))}
        refused_code = await browser.post("/account/login", data=wrong)
        assert refused_code.status_code == 401  # a wrong code is answered as a wrong password
        right = {**form, "csrf_token": csrf_from(asked.text), "code": code.group(1)}
        assert (await browser.post("/account/login", data=right)).status_code == 303
    async with from_address(app, NAT) as replay:
        page = await replay.get("/account/login")
        reused = {**form, "csrf_token": csrf_from(page.text), "code": code.group(1)}
        assert (await replay.post("/account/login", data=reused)).status_code == 401  # once


async def test_sign_ups_are_limited_per_address_with_retry_after(app: Starlette) -> None:
    await make_user(email="taken@example.cn")
    async with from_address(app, "198.51.100.77") as prober:
        answers = []
        for number in range(SIGNUPS_PER_ADDRESS.attempts + 1):
            answer = await prober.post(
                "/api/v1/accounts",
                json={
                    "email": "taken@example.cn" if number % 2 else f"new{number}@example.cn",
                    "password": "a long and fine passphrase",
                    "display_name": f"新人{number}",
                },
            )
            answers.append(answer)
        codes = [answer.status_code for answer in answers]
        assert set(codes[:-1]) == {201, 409}
        assert codes[-1] == 429
        assert answers[-1].json()["error"]["code"] == "rate_limited"
        assert int(answers[-1].headers["Retry-After"]) > 0
    async with from_address(app, "198.51.100.78") as someone_else:
        fine = await someone_else.post(
            "/api/v1/accounts",
            json={
                "email": "fresh@example.cn",
                "password": "a long and fine passphrase",
                "display_name": "新来的",
            },
        )
        assert fine.status_code == 201


async def test_a_reset_request_does_the_same_work_for_a_known_and_an_unknown_email(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await make_user(email="known@example.cn")
    for email in ("known@example.cn", "unknown@example.cn"):
        answer = await client.post("/api/v1/password-resets", json={"email": email})
        assert answer.status_code == 202
    # The requests only recorded the asks; neither looked the account up.
    assert sorted(await MailRequest.all().values_list("email", flat=True)) == [
        "known@example.cn",
        "unknown@example.cn",
    ]
    assert not await PasswordReset.exists()
    texts = await deliver(smtp)
    assert not await MailRequest.exists()
    assert await PasswordReset.filter(user__email="known@example.cn").count() == 1
    resets = [text for text in texts if "/account/reset/" in text]
    assert len(resets) == 1
    assert not [mail for mail in smtp.received() if "unknown@example.cn" in str(mail["To"])]


def other_than(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def mailed_code(smtp: SmtpServer) -> str:
    codes = [re.search(r"^(\d{6})$", text, re.M) for text in await deliver(smtp)]
    [found] = [code for code in codes if code]  # the code stands on a line of its own
    return found.group(1)


async def throttle(app: Starlette, email: str) -> None:
    async with from_address(app, NAT) as stranger:
        for _ in range(FAILED_LOGINS_PER_ACCOUNT.attempts):
            await get_token(stranger, email, "a guess")


async def test_a_code_and_the_password_are_one_credential_with_a_few_tries(
    app: Starlette, smtp: SmtpServer
) -> None:
    """Holding a live code buys no free password guesses: every attempt that presents it
    spends one of its tries, and a wrong code and a wrong password look the same."""
    await make_user(email="owner@example.cn")
    await throttle(app, "owner@example.cn")
    async with from_address(app, NAT) as client:
        asked = await client.post("/api/v1/login-codes", json={"email": "owner@example.cn"})
        assert asked.status_code == 202
        code = await mailed_code(smtp)
        wrong_code = await get_token(client, "owner@example.cn", PASSWORD, code=other_than(code))
        wrong_password = await get_token(client, "owner@example.cn", "a guess", code=code)
        assert wrong_code.status_code == wrong_password.status_code == 401
        assert wrong_code.json()["error"] == wrong_password.json()["error"]
        for _ in range(CODE_TRIES - 1):
            await get_token(client, "owner@example.cn", "another guess", code=code)
        spent = await get_token(client, "owner@example.cn", PASSWORD, code=code)
        assert spent.status_code == 401  # its tries are used up, even with the right password


async def test_wrong_codes_say_nothing_of_whether_an_account_exists(app: Starlette) -> None:
    await make_user(email="real@example.cn")
    answers = {}
    for email in ("real@example.cn", "nobody@example.cn"):
        async with from_address(app, "198.51.100.20") as client:
            seen = [
                (answer.status_code, answer.json()["error"]["code"])
                for answer in [
                    await get_token(client, email, "a guess", code="123456")
                    for _ in range(WRONG_CODES_PER_PAIR.attempts + 1)
                ]
            ]
        answers[email] = seen
    assert answers["real@example.cn"] == answers["nobody@example.cn"]
    assert answers["real@example.cn"][-1] == (429, "rate_limited")


async def test_a_new_password_voids_every_device_token_made_before_it(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    user = await make_user(email="owner@example.cn")
    async with from_address(app, NAT) as owner:
        old = (await get_token(owner, "owner@example.cn", PASSWORD)).json()["device_token"]
    await accounts.change_password(
        user, current_password=PASSWORD, new_password=NEW_PASSWORD, now=datetime.now(UTC)
    )
    await throttle(app, "owner@example.cn")
    async with from_address(app, NAT) as thief:
        # Whoever kept the old device token is back among the untrusted, held by the throttle.
        held = await get_token(thief, "owner@example.cn", NEW_PASSWORD, device_token=old)
        assert held.status_code == 429


async def test_the_sign_in_page_refused_for_too_many_failures_says_when_to_come_back(
    app: Starlette,
) -> None:
    # The form is shown again in place (web.errors.form_refused), with the handler's headers.
    await make_user(email="owner@example.cn")
    async with from_address(app, NAT) as stranger:
        for _ in range(FAILED_LOGINS_PER_ACCOUNT.attempts):
            await get_token(stranger, "owner@example.cn", "a guess")
    async with from_address(app, NAT) as browser:
        page = await browser.get("/account/login")
        form = {"email": "owner@example.cn", "password": "x", "csrf_token": csrf_from(page.text)}
        refused = await browser.post("/account/login", data=form)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert 'name="email"' in refused.text  # the form, not a redirect
