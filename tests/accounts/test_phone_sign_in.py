"""Signing in with a mainland mobile number and a texted code, over real HTTP to the SMS
stand-in (the code is read from its folder, as the phone would show it): codes expire, work
once and for few guesses; sends and guesses are limited so that a stranger can neither spend
the owner's sends nor lock the owner out; a daily budget stops SMS pumping and tells the
staff once; both gateways; the pages and the API."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from accounts import phones
from accounts.errors import BadCode
from accounts.models import (
    Identity,
    LoginCode,
    Notification,
    PhoneAddress,
    PhoneCode,
    SmsDay,
    User,
)
from accounts.sms import make_sender
from app import create_app
from composition import AppWiring
from errors import ValidationError
from jobs.schedule import PERIODIC, JobContext
from ratelimit import MemoryCounter
from settings import Settings
from tests.conftest import TENCENT_SMS_TEMPLATE
from tests.factories import csrf_from, make_user, make_user_without_email, sign_in

OWNER_HOME = "198.51.100.7"
STRANGER = "203.0.113.66"


def from_address(app: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def messages_to(folder: Path, phone: str) -> list[dict[str, str]]:
    """What the stand-in delivered to `phone` (11 digits), oldest first."""
    found = [json.loads(p.read_text("utf-8")) for p in sorted(folder.glob("*.json"))]
    return [m for m in found if m["phone"] == phone]


def texts_to(folder: Path, phone: str) -> list[str]:
    return [m["text"] for m in messages_to(folder, phone)]


def providers_of(folder: Path, phone: str) -> set[str]:
    return {m["provider"] for m in messages_to(folder, phone)}


def last_code(folder: Path, phone: str) -> str:
    texts = texts_to(folder, phone)
    assert texts, f"no text message reached {phone}"
    found = re.search(r"验证码为(\d{6})", texts[-1])
    assert found, texts[-1]
    return found.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def ask_code(client: httpx.AsyncClient, phone: str) -> httpx.Response:
    return await client.post("/api/v1/phone-codes", json={"phone": phone})


async def phone_token(
    client: httpx.AsyncClient, phone: str, code: str, device_token: str | None = None
) -> httpx.Response:
    body = {"phone": phone, "code": code}
    if device_token:
        body["device_token"] = device_token
    return await client.post("/api/v1/tokens/phone", json=body)


@asynccontextmanager
async def app_for(settings: Settings, wired: AppWiring) -> AsyncIterator[Starlette]:
    """An app built from changed settings (a smaller budget, another gateway)."""
    app = create_app(settings, manage_database=False, background_tasks=False, wired=wired)
    try:
        yield app
    finally:
        await app.state.counter.aclose()
        await app.state.payments_provider.aclose()
        await app.state.sms_sender.aclose()
        app.state.pictures.close()


@pytest.fixture
def folder(sms_gateway: tuple[str, Path]) -> Path:
    return sms_gateway[1]


@pytest.mark.parametrize(
    "typed",
    [
        "13800138000",
        "+86 138 0013 8000",
        "86-138-0013-8000",
        "１３８００１３８０００",
        "0086 13800138000",
    ],
)
def test_numbers_are_read_as_people_type_them(typed: str) -> None:
    assert phones.normalize_phone(typed) == "+8613800138000"


@pytest.mark.parametrize("typed", ["12800138000", "1380013800", "+1 415 555 0100", "", "abc"])
def test_a_number_that_is_not_a_mainland_mobile_is_refused(typed: str) -> None:
    with pytest.raises(ValidationError) as refused:
        phones.normalize_phone(typed)
    assert refused.value.field == "phone"


async def test_a_new_number_signs_in_to_a_new_account_without_email(
    app: Starlette, folder: Path
) -> None:
    async with from_address(app, OWNER_HOME) as client:
        assert (await ask_code(client, "+86 139 0000 0001")).status_code == 202
        code = last_code(folder, "13900000001")
        answer = await phone_token(client, "13900000001", code)
    assert answer.status_code == 201, answer.text
    assert set(answer.json()) == {"token", "device_token"}
    [identity] = await Identity.filter(subject="+8613900000001")
    user = await User.get(id=identity.user_id)  # type: ignore[attr-defined]
    assert user.email is None and not user.has_password
    # "书友" and four random digits, never the number's (names are public).
    assert re.fullmatch(r"书友\d{4}", user.display_name)
    assert identity.label == "139****0001" and identity.last_used_at is not None
    assert await PhoneAddress.filter(phone="+8613900000001").count() == 1
    # The stored code is a digest: the code itself is nowhere in the database.
    [row] = await PhoneCode.filter(phone="+8613900000001")
    assert code not in row.code_hash and row.used_at is not None


async def test_the_api_refuses_a_number_that_is_not_a_mainland_mobile(
    client: httpx.AsyncClient,
) -> None:
    answer = await ask_code(client, "+1 415 555 0100")
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "phone"


async def test_a_code_works_once(app: Starlette, folder: Path) -> None:
    async with from_address(app, OWNER_HOME) as client:
        await ask_code(client, "13900000002")
        code = last_code(folder, "13900000002")
        assert (await phone_token(client, "13900000002", code)).status_code == 201
        again = await phone_token(client, "13900000002", code)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "bad_code"


async def test_two_racing_uses_of_one_code_sign_in_once(app: Starlette, folder: Path) -> None:
    async with from_address(app, OWNER_HOME) as client:
        await ask_code(client, "13900000003")
        code = last_code(folder, "13900000003")
        answers = await asyncio.gather(
            *(phone_token(client, "13900000003", code) for _ in range(5))
        )
    assert sorted(a.status_code for a in answers) == [201, 401, 401, 401, 401]
    assert await Identity.filter(subject="+8613900000003").count() == 1


async def test_an_expired_code_is_refused(settings: Settings, folder: Path) -> None:
    sender = make_sender(settings.sms)
    asked = datetime.now(UTC) - phones.CODE_FOR - timedelta(seconds=1)
    common = {"address": OWNER_HOME, "counter": MemoryCounter(), "secret_key": settings.secret_key}
    await phones.request_code(
        "13900000004",
        sender=sender,
        now=asked,
        budget=10,
        **common,  # type: ignore[arg-type]
    )
    code = last_code(folder, "13900000004")
    with pytest.raises(BadCode):
        await phones.sign_in_with_code(
            "13900000004",
            code,
            now=datetime.now(UTC),
            **common,  # type: ignore[arg-type]
        )
    # The same code a moment before it ran out would have worked.
    signed_in = await phones.sign_in_with_code(
        "13900000004",
        code,
        now=asked + phones.CODE_FOR - timedelta(seconds=1),
        **common,  # type: ignore[arg-type]
    )
    assert signed_in.user.email is None


async def test_a_code_is_void_after_three_wrong_guesses_from_where_it_was_asked(
    app: Starlette, folder: Path
) -> None:
    async with from_address(app, STRANGER) as client:
        await ask_code(client, "13900000005")
        code = last_code(folder, "13900000005")
        for _ in range(phones.CODE_TRIES):
            assert (await phone_token(client, "13900000005", wrong(code))).status_code == 401
        assert (await phone_token(client, "13900000005", code)).status_code == 401


async def test_sends_are_limited_per_number_and_address(app: Starlette, folder: Path) -> None:
    async with from_address(app, STRANGER) as client:
        assert (await ask_code(client, "13900000006")).status_code == 202
        again = await ask_code(client, "13900000006")
        assert again.status_code == 429
        assert again.json()["error"]["code"] == "rate_limited"
        assert int(again.headers["Retry-After"]) > 0
        # Another number from the same address is another pair.
        assert (await ask_code(client, "13900000007")).status_code == 202
    assert len(texts_to(folder, "13900000006")) == 1


async def test_a_stranger_cannot_spend_the_owners_sends(app: Starlette, folder: Path) -> None:
    phone = "13900000008"
    async with from_address(app, OWNER_HOME) as owner:
        await ask_code(owner, phone)
        assert (await phone_token(owner, phone, last_code(folder, phone))).status_code == 201
    # Strangers from many addresses ask for codes to the owner's number until refused (the
    # owner's first code, asked before the address was known, counted against the cap too).
    refused = 0
    for n in range(phones.SENDS_PER_NUMBER.attempts):
        async with from_address(app, f"203.0.113.{100 + n}") as stranger:
            refused += (await ask_code(stranger, phone)).status_code == 429
    assert refused == 1
    async with from_address(app, f"203.0.113.{200}") as stranger:
        assert (await ask_code(stranger, phone)).status_code == 429
    before = len(texts_to(folder, phone))
    async with from_address(app, OWNER_HOME) as owner:
        assert (await ask_code(owner, phone)).status_code == 202
        # The known address is not held to the strangers' one-a-minute either.
        assert (await ask_code(owner, phone)).status_code == 202
        assert (await phone_token(owner, phone, last_code(folder, phone))).status_code == 201
    assert len(texts_to(folder, phone)) == before + 2


async def test_guessing_is_limited_per_number_and_address(app: Starlette) -> None:
    phone = "13900000009"
    async with from_address(app, STRANGER) as stranger:
        for _ in range(phones.WRONG_PER_PAIR.attempts):
            assert (await phone_token(stranger, phone, "000000")).status_code == 401
        assert (await phone_token(stranger, phone, "000000")).status_code == 429
    # From many addresses: the number's limit for unknown clients stops them.
    answers = []
    for n in range(phones.WRONG_PER_NUMBER.attempts):
        async with from_address(app, f"192.0.2.{n + 1}") as other:
            answers.append((await phone_token(other, phone, "000001")).status_code)
    # Counted before they are checked, refused guesses count too: the stranger's sixth.
    assert answers.count(429) == phones.WRONG_PER_PAIR.attempts + 1
    async with from_address(app, "192.0.2.250") as fresh:
        assert (await phone_token(fresh, phone, "000002")).status_code == 429


async def test_a_stranger_cannot_lock_the_owner_out(app: Starlette, folder: Path) -> None:
    phone = "13900000010"
    async with from_address(app, OWNER_HOME) as owner:
        await ask_code(owner, phone)
        first = await phone_token(owner, phone, last_code(folder, phone))
        device_token = first.json()["device_token"]
    # Strangers everywhere guess until the number refuses unknown clients.
    for n in range(phones.WRONG_PER_NUMBER.attempts + 5):
        async with from_address(app, f"192.0.2.{n + 1}") as stranger:
            await phone_token(stranger, phone, f"{n:06d}")
    async with from_address(app, "192.0.2.251") as stranger:
        assert (await phone_token(stranger, phone, "999999")).status_code == 429
    # The owner, on a new network (mobile data) with the device token, still signs in ...
    async with from_address(app, "100.64.0.9") as owner:
        assert (await ask_code(owner, phone)).status_code == 202
        again = await phone_token(owner, phone, last_code(folder, phone), device_token)
        assert again.status_code == 201, again.text
        assert again.json()["device_token"] == device_token
    # ... and so does their known address without it.
    async with from_address(app, OWNER_HOME) as owner:
        assert (await ask_code(owner, phone)).status_code == 202
        assert (await phone_token(owner, phone, last_code(folder, phone))).status_code == 201


async def test_the_daily_budget_stops_texts_and_tells_the_staff_once(
    settings: Settings, wired: AppWiring, folder: Path
) -> None:
    admin = await make_user(admin=True)
    moderator = await make_user(role="moderator")
    async with app_for(replace(settings, sms_daily_budget=2), wired) as app:
        answers = []
        for n in range(4):
            async with from_address(app, f"198.51.100.{n + 20}") as client:
                answers.append(await ask_code(client, f"1370000000{n}"))
    assert [a.status_code for a in answers] == [202, 202, 429, 429]
    assert answers[2].json()["error"]["code"] == "rate_limited"
    assert texts_to(folder, "13700000002") == []
    [day] = await SmsDay.all()
    assert (day.sent, day.refused) == (2, 2) and day.alerted_at is not None
    [told] = await Notification.filter(kind=phones.SMS_BUDGET_SPENT)
    assert told.user_id == admin.id  # type: ignore[attr-defined]
    assert not await Notification.filter(user_id=moderator.id).exists()


async def test_a_gateway_that_refuses_answers_503_and_spends_no_budget(
    settings: Settings, wired: AppWiring
) -> None:
    assert settings.sms is not None
    broken = replace(settings, sms=replace(settings.sms, access_key_secret="not-the-secret"))
    async with app_for(broken, wired) as app, from_address(app, OWNER_HOME) as client:
        answer = await ask_code(client, "13900000011")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "service_unavailable"
    assert [day.sent for day in await SmsDay.all()] == [0]
    assert not await PhoneCode.filter(phone="+8613900000011").exists()


async def test_tencent_clouds_gateway_sends_the_code_too(
    settings: Settings, wired: AppWiring, folder: Path
) -> None:
    assert settings.sms is not None
    tencent = replace(
        settings,
        sms=replace(
            settings.sms, provider="tencent", template=TENCENT_SMS_TEMPLATE, app_id="1400000000"
        ),
    )
    async with app_for(tencent, wired) as app, from_address(app, OWNER_HOME) as client:
        assert (await ask_code(client, "13900000012")).status_code == 202
        [text] = texts_to(folder, "13900000012")
        assert text.endswith("分钟内有效。") and "5分钟" in text
        signed_in = await phone_token(client, "13900000012", last_code(folder, "13900000012"))
    assert signed_in.status_code == 201
    assert providers_of(folder, "13900000012") == {"tencent"}


async def test_the_page_signs_in_by_phone_in_two_steps(app: Starlette, folder: Path) -> None:
    async with from_address(app, OWNER_HOME) as browser:
        login = await browser.get("/account/login")
        assert "/account/login/phone" in login.text
        page = await browser.get("/account/login/phone", params={"next": "/account"})
        token = csrf_from(page.text)
        sent = await browser.post(
            "/account/login/phone",
            data={"phone": "139 0000 0013", "next": "/account", "csrf_token": token},
        )
        assert sent.status_code == 200
        assert 'name="code"' in sent.text
        code = last_code(folder, "13900000013")
        refused = await browser.post(
            "/account/login/phone",
            data={"phone": "139 0000 0013", "code": wrong(code), "csrf_token": token},
        )
        assert refused.status_code == 401 and 'aria-invalid="true"' in refused.text
        signed_in = await browser.post(
            "/account/login/phone",
            data={"phone": "139 0000 0013", "code": code, "next": "/account", "csrf_token": token},
        )
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/account"
        assert "sy_device" in signed_in.headers["set-cookie"]
        assert "Path=/account;" in signed_in.headers["set-cookie"]
        account = await browser.get("/account")
    assert account.status_code == 200


async def test_on_the_page_a_code_belongs_to_the_browser_not_its_address(
    app: Starlette, folder: Path
) -> None:
    """A phone that asks for the code on Wi-Fi and types it on mobile data changes address,
    not browser: the page's code still signs it in. Another browser at the first address,
    typing the same code, does not."""
    async with from_address(app, OWNER_HOME) as on_wifi:
        token = csrf_from((await on_wifi.get("/account/login/phone")).text)
        await on_wifi.post(
            "/account/login/phone", data={"phone": "13900000070", "csrf_token": token}
        )
        code = last_code(folder, "13900000070")
        cookies = on_wifi.cookies
    async with from_address(app, OWNER_HOME) as other_browser:
        other = csrf_from((await other_browser.get("/account/login/phone")).text)
        refused = await other_browser.post(
            "/account/login/phone",
            data={"phone": "13900000070", "code": code, "csrf_token": other},
        )
        assert refused.status_code == 401
    async with from_address(app, "100.64.0.70") as on_mobile_data:
        on_mobile_data.cookies = cookies
        signed_in = await on_mobile_data.post(
            "/account/login/phone",
            data={"phone": "13900000070", "code": code, "csrf_token": token},
        )
        assert signed_in.status_code == 303, signed_in.text


async def test_successes_do_not_fill_the_limits_on_wrong_codes(app: Starlette) -> None:
    """Guesses are counted before they are checked; a right one takes its count back, so
    many people signing in from one carrier NAT address are never refused for it."""
    now = datetime.now(UTC)
    secret_key = app.state.settings.secret_key
    numbers = [f"1390000{n:04d}" for n in range(100, 100 + phones.WRONG_PER_ADDRESS.attempts + 2)]
    for number in numbers:
        await PhoneCode.create(
            phone=f"+86{number}",
            code_hash=phones._code_digest(f"+86{number}", "123456", secret_key),
            address_hash=phones._address_digest(STRANGER),
            expires_at=now + timedelta(minutes=5),
            created_at=now,
        )
    async with from_address(app, STRANGER) as carrier_nat:
        answers = [(await phone_token(carrier_nat, n, "123456")).status_code for n in numbers]
    assert answers == [201] * len(numbers)


async def test_the_page_keeps_next_on_this_site(app: Starlette, folder: Path) -> None:
    async with from_address(app, OWNER_HOME) as browser:
        token = csrf_from((await browser.get("/account/login/phone")).text)
        await browser.post(
            "/account/login/phone", data={"phone": "13900000014", "csrf_token": token}
        )
        signed_in = await browser.post(
            "/account/login/phone",
            data={
                "phone": "13900000014",
                "code": last_code(folder, "13900000014"),
                "next": "https://evil.example/",
                "csrf_token": token,
            },
        )
    assert signed_in.headers["location"] == "/"


async def test_a_signed_in_person_adds_a_number_that_then_signs_in(
    app: Starlette, folder: Path
) -> None:
    user = await make_user(email="reader@example.cn")
    async with from_address(app, OWNER_HOME) as browser:
        await sign_in(browser, "reader@example.cn")
        token = csrf_from((await browser.get("/account/phone/add")).text)
        await browser.post("/account/phone/add", data={"phone": "13900000015", "csrf_token": token})
        added = await browser.post(
            "/account/phone/add",
            data={
                "phone": "13900000015",
                "code": last_code(folder, "13900000015"),
                "csrf_token": token,
            },
        )
        assert added.status_code == 303
    [identity] = await Identity.filter(subject="+8613900000015")
    assert identity.user_id == user.id  # type: ignore[attr-defined]
    async with from_address(app, "100.64.0.10") as phone:
        await ask_code(phone, "13900000015")
        answer = await phone_token(phone, "13900000015", last_code(folder, "13900000015"))
        assert answer.status_code == 201
    assert await User.all().count() == 1
    # The owner is told (a way in they did not add is one a thief would keep).
    told = await Notification.filter(user_id=user.id, kind="sign_in_added").values_list(
        "params", flat=True
    )
    assert told == [{"what": "Phone 139****0015"}]


async def test_a_burst_of_guesses_is_counted_whole(app: Starlette) -> None:
    """Guesses sent at once are each counted before any is checked: a burst of twice the
    limit gets at most the limit's answers."""
    async with from_address(app, STRANGER) as stranger:
        answers = await asyncio.gather(
            *(phone_token(stranger, "13900000030", f"{n:06d}") for n in range(12))
        )
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) <= phones.WRONG_PER_PAIR.attempts
    assert statuses.count(429) >= 12 - phones.WRONG_PER_PAIR.attempts


async def test_codes_asked_for_elsewhere_do_not_answer_a_strangers_guess(
    app: Starlette, folder: Path
) -> None:
    """A guess is compared only with the codes its own address asked for: the owner's code,
    typed by a stranger elsewhere, signs nobody in (and codes strangers ask for from many
    addresses do not multiply a guess's chances)."""
    phone = "13900000031"
    async with from_address(app, OWNER_HOME) as owner:
        await ask_code(owner, phone)
    owners_code = last_code(folder, phone)
    async with from_address(app, STRANGER) as stranger:
        assert (await phone_token(stranger, phone, owners_code)).status_code == 401
    async with from_address(app, OWNER_HOME) as owner:
        assert (await phone_token(owner, phone, owners_code)).status_code == 201


async def test_the_api_refuses_a_body_that_is_not_labelled_json(app: Starlette) -> None:
    """Another site's page can make a browser post plain text anywhere without asking (no
    CORS preflight): such a body is 415, and no text message is sent."""
    async with from_address(app, STRANGER) as other_site:
        answer = await other_site.post(
            "/api/v1/phone-codes",
            content=b'{"phone": "13900000032"}',
            headers={"content-type": "text/plain;charset=UTF-8"},
        )
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_media_type"
    assert not await PhoneCode.filter(phone="+8613900000032").exists()


async def test_a_number_of_another_account_is_not_added(app: Starlette, folder: Path) -> None:
    async with from_address(app, "100.64.0.11") as other:
        await ask_code(other, "13900000016")
        await phone_token(other, "13900000016", last_code(folder, "13900000016"))
    await make_user(email="second@example.cn")
    async with from_address(app, OWNER_HOME) as browser:
        await sign_in(browser, "second@example.cn")
        token = csrf_from((await browser.get("/account/phone/add")).text)
        await browser.post("/account/phone/add", data={"phone": "13900000016", "csrf_token": token})
        refused = await browser.post(
            "/account/phone/add",
            data={
                "phone": "13900000016",
                "code": last_code(folder, "13900000016"),
                "csrf_token": token,
            },
        )
    assert refused.status_code == 409
    assert "已用于登录另一个账户" in refused.text


async def test_the_job_deletes_codes_a_day_after_they_expire(app: Starlette) -> None:
    """Dead codes are not kept: a day after they expire (texted or mailed), the
    accounts.prune_codes job deletes them."""
    now = datetime.now(UTC)
    user = await make_user()
    for minutes_ago in (60 * 25, 60):  # expired a day and an hour ago, and an hour ago
        expired = now - timedelta(minutes=minutes_ago)
        await PhoneCode.create(
            phone="+8613900000050",
            code_hash="x" * 64,
            address_hash="y" * 64,
            expires_at=expired,
            created_at=expired - timedelta(minutes=5),
        )
        await LoginCode.create(
            user=user, code_hash="z" * 64, expires_at=expired, created_at=expired
        )
    [job] = [job for job in PERIODIC if job.name == "accounts.prune_codes"]
    context = JobContext(provider=app.state.payments_provider)
    assert await job.run(context, now) == {"pruned": 2}
    assert await PhoneCode.all().count() == 1 and await LoginCode.all().count() == 1
    assert await job.run(context, now) is None


async def test_the_rate_counters_do_not_name_the_number(app: Starlette, folder: Path) -> None:
    """Counters live in Redis when one is configured: their names carry a keyed digest of
    the number, never the number."""
    async with from_address(app, STRANGER) as client:
        await ask_code(client, "13900000060")
        await phone_token(client, "13900000060", "000000")
    names = list(app.state.counter._counts)  # MemoryCounter's, as Redis would hold them
    assert any(name.startswith(("sms:", "phone:")) for name in names)
    assert not [name for name in names if "13900000060" in name]


async def test_a_closed_accounts_number_signs_in_to_nothing(
    client: httpx.AsyncClient, folder: Path
) -> None:
    """Leaving (注销): after the cooling-off nobody signs in to the account, with its phone
    number neither; and no new account is made for the number meanwhile."""
    user = await make_user_without_email()
    phone = (await Identity.get(user_id=user.id)).subject
    await User.filter(id=user.id).update(erase_after=datetime.now(UTC) - timedelta(minutes=1))
    assert (await ask_code(client, phone)).status_code == 202
    refused = await phone_token(client, phone, last_code(folder, phone[3:]))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "account_closed"
    assert await User.filter(id__gt=user.id).count() == 0
