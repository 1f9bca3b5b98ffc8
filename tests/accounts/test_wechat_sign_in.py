"""Signing in with WeChat over real HTTP: the app (over ASGI) sends the browser to the WeChat
stand-in (devserver/wechat.py), a client holding the stand-in's person cookie plays the phone,
and the stand-in's redirect brings the browser back to the callback."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from accounts import requested_mail
from accounts import wechat_sign_in as sign_in_with_wechat
from accounts.errors import WechatStateRefused
from accounts.models import Identity, LoginCode, Notification, OutboxMessage, User, WechatOpenid
from accounts.wechat import WechatClient
from app import create_app
from composition import AppWiring
from settings import Settings
from tests.conftest import WECHAT_OFFICIAL, WECHAT_WEBSITE
from tests.factories import PASSWORD, csrf_from, make_user, sign_in

IN_WECHAT = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0.50 NetType/WIFI"
ON_A_COMPUTER = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"


def browser(app: Starlette, *, user_agent: str = ON_A_COMPUTER) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"User-Agent": user_agent},
    )


def _params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


async def start(web: httpx.AsyncClient, *, next_url: str | None = None) -> str:
    """Press "Sign in with WeChat": where the app sends the browser."""
    answer = await web.get("/account/wechat/start", params={"next": next_url} if next_url else {})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


async def on_the_computer(wechat_url: str, location: str, person: str) -> str:
    """The website's QR login page, and its button that plays the phone: the callback URL."""
    assert location.startswith(f"{wechat_url}/connect/qrconnect?")
    assert location.endswith("#wechat_redirect")
    async with httpx.AsyncClient(base_url=wechat_url) as computer:
        page = await computer.get(location.partition("#")[0])
        assert page.status_code == 200, page.text
        confirmed = await computer.post(
            "/connect/qrconnect/confirm", data={**_params(location), "person": person}
        )
    assert confirmed.status_code == 302, confirmed.text
    return str(confirmed.headers["location"])


async def on_the_phone(
    wechat_url: str, location: str, person: str, *, answer: str = "allow"
) -> tuple[str, bool]:
    """The official account's authorisation inside WeChat, as `person`: the callback URL,
    and whether WeChat showed its consent page."""
    assert location.startswith(f"{wechat_url}/connect/oauth2/authorize?")
    async with httpx.AsyncClient(base_url=wechat_url, headers={"User-Agent": IN_WECHAT}) as phone:
        phone.cookies.set("wx_person", quote(person))
        page = await phone.get(location.partition("#")[0])
        if page.status_code == 302:
            return str(page.headers["location"]), False
        assert page.status_code == 200 and "允许" in page.text, page.text
        consented = await phone.post(
            "/connect/oauth2/consent", data={**_params(location), "answer": answer}
        )
    assert consented.status_code == 302, consented.text
    return str(consented.headers["location"]), True


async def come_back(web: httpx.AsyncClient, callback_url: str) -> httpx.Response:
    parts = urlsplit(callback_url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://testserver"  # settings.public_url
    return await web.get(f"{parts.path}?{parts.query}")


async def first_sign_in_on_a_computer(
    web: httpx.AsyncClient, wechat_url: str, person: str, *, next_url: str | None = None
) -> httpx.Response:
    """Through the QR login to the first sign-in page (asserted)."""
    back = await come_back(
        web, await on_the_computer(wechat_url, await start(web, next_url=next_url), person)
    )
    assert back.status_code == 303 and back.headers["location"] == "/account/wechat/finish"
    page = await web.get("/account/wechat/finish")
    assert page.status_code == 200
    return page


async def who_is_signed_in(web: httpx.AsyncClient) -> str | None:
    page = await web.get("/account")
    if page.status_code != 200:
        return None
    found = re.search(r"<h1>([^<]+)</h1>", page.text)
    return found.group(1) if found else None


@pytest.fixture
async def web(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(app) as client:
        yield client


async def test_a_first_sign_in_on_a_computer_creates_an_account_with_the_wechat_name(
    web: httpx.AsyncClient, wechat_url: str
) -> None:
    page = await first_sign_in_on_a_computer(web, wechat_url, "林黛玉", next_url="/store")
    assert 'value="林黛玉"' in page.text  # the nickname, offered and editable
    created = await web.post(
        "/account/wechat/finish",
        data={"csrf_token": csrf_from(page.text), "display_name": "黛玉", "use_avatar": "1"},
    )
    assert created.status_code == 303 and created.headers["location"] == "/store"
    user = await User.get(display_name="黛玉")
    assert user.email is None and not user.has_password
    assert user.avatar_version == 1  # WeChat's avatar, through the profile's picture checks
    identity = await Identity.get(user_id=user.id)
    assert identity.kind == "wechat" and not identity.subject.startswith("openid:")
    [openid] = await WechatOpenid.filter(user_id=user.id)
    assert openid.app_id == WECHAT_WEBSITE.app_id
    assert await who_is_signed_in(web) == "黛玉"


async def test_the_new_account_may_leave_out_the_wechat_avatar_and_a_bad_name_is_refused(
    web: httpx.AsyncClient, wechat_url: str
) -> None:
    page = await first_sign_in_on_a_computer(web, wechat_url, "薛宝钗")
    refused = await web.post(
        "/account/wechat/finish",
        data={"csrf_token": csrf_from(page.text), "display_name": "аdmin"},  # Cyrillic а
    )
    assert refused.status_code == 422
    created = await web.post(
        "/account/wechat/finish",
        data={"csrf_token": csrf_from(refused.text), "display_name": "宝钗"},
    )
    assert created.status_code == 303
    assert (await User.get(display_name="宝钗")).avatar_version == 0


async def test_a_first_sign_in_links_an_existing_account_proved_with_its_password(
    app: Starlette, web: httpx.AsyncClient, wechat_url: str
) -> None:
    owner = await make_user(email="tanchun@example.cn", name="探春")
    page = await first_sign_in_on_a_computer(web, wechat_url, "贾探春")
    wrong = await web.post(
        "/account/wechat/finish/password",
        data={"csrf_token": csrf_from(page.text), "email": owner.email, "password": "a guess"},
    )
    assert wrong.status_code == 401 and not await Identity.exists(user_id=owner.id)
    linked = await web.post(
        "/account/wechat/finish/password",
        data={"csrf_token": csrf_from(wrong.text), "email": owner.email, "password": PASSWORD},
    )
    assert linked.status_code == 303
    assert await Identity.exists(user_id=owner.id, kind="wechat")
    assert await who_is_signed_in(web) == "探春"
    # Next time WeChat alone signs in to it.
    async with browser(app) as later:
        back = await come_back(
            later, await on_the_computer(wechat_url, await start(later), "贾探春")
        )
        assert back.status_code == 303 and back.headers["location"] == "/"
        assert await who_is_signed_in(later) == "探春"


async def mailed_code(email: str) -> str:
    await requested_mail.send_due(now=datetime.now(UTC))
    mails = await OutboxMessage.filter(recipient=email).order_by("-id")
    found = [re.search(r"^(\d{6})$", mail.text, re.M) for mail in mails]
    codes = [code.group(1) for code in found if code]
    assert codes, [mail.text for mail in mails]
    return codes[0]


async def test_a_first_sign_in_links_an_existing_account_proved_with_a_mailed_code(
    web: httpx.AsyncClient, wechat_url: str
) -> None:
    owner = await make_user(email="xichun@example.cn", name="惜春")
    page = await first_sign_in_on_a_computer(web, wechat_url, "贾惜春")
    asked = await web.post(
        "/account/wechat/finish/code-request",
        data={"csrf_token": csrf_from(page.text), "email": "XiChun@example.cn"},
    )
    assert asked.status_code == 200 and 'name="code"' in asked.text
    code = await mailed_code("xichun@example.cn")
    wrong = "000000" if code != "000000" else "111111"
    refused = await web.post(
        "/account/wechat/finish/code",
        data={"csrf_token": csrf_from(asked.text), "email": owner.email, "code": wrong},
    )
    assert refused.status_code == 401
    linked = await web.post(
        "/account/wechat/finish/code",
        data={"csrf_token": csrf_from(refused.text), "email": owner.email, "code": code},
    )
    assert linked.status_code == 303
    assert await Identity.exists(user_id=owner.id, kind="wechat")
    assert await who_is_signed_in(web) == "惜春"


async def test_a_new_link_code_voids_the_last_and_the_owner_is_told_of_the_link(
    web: httpx.AsyncClient, wechat_url: str
) -> None:
    """One live link code per account (codes asked for from many places do not multiply a
    guess's chances); a WeChat linked to an account is told to its owner in the inbox."""
    owner = await make_user(email="tanchun@example.cn", name="探春")
    page = await first_sign_in_on_a_computer(web, wechat_url, "贾探春")
    ask = {"csrf_token": csrf_from(page.text), "email": owner.email}
    await web.post("/account/wechat/finish/code-request", data=ask)
    first = await mailed_code("tanchun@example.cn")
    asked = await web.post("/account/wechat/finish/code-request", data=ask)
    second = await mailed_code("tanchun@example.cn")
    assert await LoginCode.filter(user_id=owner.id, purpose="link", used_at=None).count() == 1
    if first != second:  # one in a million they are the same
        stale = await web.post(
            "/account/wechat/finish/code",
            data={"csrf_token": csrf_from(asked.text), "email": owner.email, "code": first},
        )
        assert stale.status_code == 401
    linked = await web.post(
        "/account/wechat/finish/code",
        data={"csrf_token": csrf_from(asked.text), "email": owner.email, "code": second},
    )
    assert linked.status_code == 303
    told = await Notification.filter(user_id=owner.id, kind="sign_in_added").values_list(
        "params", flat=True
    )
    assert told == [{"what": "WeChat 贾探春"}]


async def test_asking_a_code_for_an_unknown_email_looks_the_same_and_mails_nothing(
    web: httpx.AsyncClient, wechat_url: str
) -> None:
    page = await first_sign_in_on_a_computer(web, wechat_url, "妙玉")
    asked = await web.post(
        "/account/wechat/finish/code-request",
        data={"csrf_token": csrf_from(page.text), "email": "nobody@example.cn"},
    )
    assert asked.status_code == 200 and 'name="code"' in asked.text
    await requested_mail.send_due(now=datetime.now(UTC))
    assert not await OutboxMessage.exists(recipient="nobody@example.cn")
    guessed = await web.post(
        "/account/wechat/finish/code",
        data={"csrf_token": csrf_from(asked.text), "email": "nobody@example.cn", "code": "123456"},
    )
    assert guessed.status_code == 401


async def test_a_link_code_has_a_few_tries_then_a_new_one_is_needed(
    web: httpx.AsyncClient, wechat_url: str
) -> None:
    owner = await make_user(email="xiangyun@example.cn", name="湘云")
    page = await first_sign_in_on_a_computer(web, wechat_url, "史湘云")
    asked = await web.post(
        "/account/wechat/finish/code-request",
        data={"csrf_token": csrf_from(page.text), "email": owner.email},
    )
    code = await mailed_code("xiangyun@example.cn")
    token = csrf_from(asked.text)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(3):
        answer = await web.post(
            "/account/wechat/finish/code",
            data={"csrf_token": token, "email": owner.email, "code": wrong},
        )
        assert answer.status_code == 401
    late = await web.post(
        "/account/wechat/finish/code",
        data={"csrf_token": token, "email": owner.email, "code": code},
    )
    assert late.status_code == 401 and not await Identity.exists(user_id=owner.id)


async def test_the_same_person_from_the_official_account_and_the_website_is_one_account(
    app: Starlette, wechat_url: str
) -> None:
    async with browser(app) as computer:
        page = await first_sign_in_on_a_computer(computer, wechat_url, "王熙凤")
        await computer.post(
            "/account/wechat/finish",
            data={"csrf_token": csrf_from(page.text), "display_name": "凤姐"},
        )
    async with browser(app, user_agent=IN_WECHAT) as phone:
        location = await start(phone)
        assert _params(location)["scope"] == "snsapi_base"
        silent, asked = await on_the_phone(wechat_url, location, "王熙凤")
        assert not asked
        # An openid the app does not know yet: asked again, with the consent page.
        upgraded = await come_back(phone, silent)
        assert upgraded.status_code == 302
        assert _params(upgraded.headers["location"])["scope"] == "snsapi_userinfo"
        consented, asked = await on_the_phone(wechat_url, upgraded.headers["location"], "王熙凤")
        assert asked
        back = await come_back(phone, consented)
        assert back.status_code == 303 and back.headers["location"] == "/"
        assert await who_is_signed_in(phone) == "凤姐"
    user = await User.get(display_name="凤姐")
    apps = set(await WechatOpenid.filter(user_id=user.id).values_list("app_id", flat=True))
    assert apps == {WECHAT_OFFICIAL.app_id, WECHAT_WEBSITE.app_id}
    assert await User.all().count() == 1
    openid = await sign_in_with_wechat.official_openid(user.id, app_id=WECHAT_OFFICIAL.app_id)
    assert openid is not None and openid.startswith("o")


async def test_inside_wechat_a_known_openid_signs_in_silently(
    app: Starlette, wechat_url: str
) -> None:
    async with browser(app, user_agent=IN_WECHAT) as phone:
        silent, _ = await on_the_phone(wechat_url, await start(phone), "贾宝玉")
        upgraded = await come_back(phone, silent)
        consented, asked = await on_the_phone(wechat_url, upgraded.headers["location"], "贾宝玉")
        assert asked
        await come_back(phone, consented)
        page = await phone.get("/account/wechat/finish")
        created = await phone.post(
            "/account/wechat/finish",
            data={"csrf_token": csrf_from(page.text), "display_name": "宝玉"},
        )
        assert created.status_code == 303
    async with browser(app, user_agent=IN_WECHAT) as again:
        callback, asked = await on_the_phone(wechat_url, await start(again), "贾宝玉")
        assert not asked  # snsapi_base: no consent page for someone the app knows
        back = await come_back(again, callback)
        assert back.status_code == 303
        assert await who_is_signed_in(again) == "宝玉"


async def test_a_forged_state_is_refused(web: httpx.AsyncClient, wechat_url: str) -> None:
    callback = await on_the_computer(wechat_url, await start(web), "袭人")
    code = _params(callback)["code"]
    forged = await web.get("/account/wechat/callback", params={"code": code, "state": "forged"})
    assert forged.status_code == 400 and "<html" in forged.text


async def test_a_replayed_state_is_refused(web: httpx.AsyncClient, wechat_url: str) -> None:
    going = await start(web)
    callback = await on_the_computer(wechat_url, going, "晴雯")
    assert (await come_back(web, callback)).status_code == 303
    # The same state again, with a fresh code WeChat would accept: only the state refuses it.
    replayed = await on_the_computer(wechat_url, going, "晴雯")
    assert replayed != callback
    refused = await come_back(web, replayed)
    assert refused.status_code == 400
    assert "已使用" in refused.text or "used already" in refused.text


async def test_another_browsers_state_is_refused(app: Starlette, wechat_url: str) -> None:
    async with browser(app) as victim, browser(app) as attacker:
        callback = await on_the_computer(wechat_url, await start(attacker), "平儿")
        refused = await come_back(victim, callback)
    assert refused.status_code == 400


async def test_an_expired_state_is_refused(app: Starlette, wechat_url: str) -> None:
    session: dict[str, object] = {}
    client = WechatClient.from_settings(app.state.settings)
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    location = sign_in_with_wechat.start(
        session, client, user_agent=ON_A_COMPUTER, next_path="/", now=long_ago
    )
    with pytest.raises(WechatStateRefused):
        await sign_in_with_wechat.callback(
            session,
            client,
            state=_params(location)["state"],
            code="a code",
            signed_in=None,
            now=datetime.now(UTC),
        )


@pytest.mark.parametrize("outside", ["https://evil.example", "//evil.example", "/\\evil.example"])
async def test_an_outside_next_is_replaced_by_the_home_page(
    web: httpx.AsyncClient, wechat_url: str, outside: str
) -> None:
    await make_user(email="yuanyang@example.cn", name="鸳鸯")
    page = await first_sign_in_on_a_computer(web, wechat_url, "鸳鸯", next_url=outside)
    created = await web.post(
        "/account/wechat/finish",
        data={"csrf_token": csrf_from(page.text), "display_name": "鸳鸯二"},
    )
    assert created.status_code == 303 and created.headers["location"] == "/"


async def test_declining_on_the_consent_page_goes_back_to_the_sign_in_page(
    app: Starlette, wechat_url: str
) -> None:
    async with browser(app, user_agent=IN_WECHAT) as phone:
        silent, _ = await on_the_phone(wechat_url, await start(phone, next_url="/store"), "香菱")
        upgraded = await come_back(phone, silent)
        declined, _ = await on_the_phone(
            wechat_url, upgraded.headers["location"], "香菱", answer="deny"
        )
        assert "code" not in _params(declined)
        back = await come_back(phone, declined)
        assert back.status_code == 303
        assert back.headers["location"] in (
            "/account/login?next=/store",
            "/account/login?next=%2Fstore",
        )
        login = await phone.get(back.headers["location"])
        assert "微信" in login.text or "WeChat" in login.text
    assert not await User.exists()


async def test_a_bad_code_from_wechat_is_a_4xx_page_not_a_500(
    web: httpx.AsyncClient, wechat_url: str
) -> None:
    state = _params(await start(web))["state"]
    answer = await web.get("/account/wechat/callback", params={"code": "bad", "state": state})
    assert answer.status_code == 400 and "<html" in answer.text


async def test_a_signed_in_person_adds_wechat_and_another_accounts_wechat_is_refused(
    app: Starlette, wechat_url: str
) -> None:
    async with browser(app) as other:
        page = await first_sign_in_on_a_computer(other, wechat_url, "李纨")
        await other.post(
            "/account/wechat/finish",
            data={"csrf_token": csrf_from(page.text), "display_name": "李纨"},
        )
    owner = await make_user(email="yingchun@example.cn", name="迎春")
    async with browser(app) as web:
        await sign_in(web, owner.email or "")
        account = await web.get("/account")
        started = await web.post(
            "/account/wechat/start", data={"csrf_token": csrf_from(account.text)}
        )
        assert started.status_code == 303
        linked = await come_back(
            web, await on_the_computer(wechat_url, started.headers["location"], "贾迎春")
        )
        assert linked.status_code == 303 and linked.headers["location"] == "/account"
        assert await Identity.exists(user_id=owner.id, kind="wechat")
        account = await web.get("/account")
        again = await web.post(
            "/account/wechat/start", data={"csrf_token": csrf_from(account.text)}
        )
        taken = await come_back(
            web, await on_the_computer(wechat_url, again.headers["location"], "李纨")
        )
        assert taken.status_code == 409 and "另一个书院账号" in taken.text
    assert await Identity.filter(user_id=owner.id).count() == 1


async def test_two_racing_first_sign_ins_of_one_person_end_in_one_account(
    app: Starlette, wechat_url: str
) -> None:
    pages = []
    clients = [browser(app), browser(app)]
    for client in clients:
        pages.append(await first_sign_in_on_a_computer(client, wechat_url, "尤三姐"))
    answers = await asyncio.gather(
        *(
            client.post(
                "/account/wechat/finish",
                data={"csrf_token": csrf_from(page.text), "display_name": "三姐"},
            )
            for client, page in zip(clients, pages, strict=True)
        )
    )
    assert [answer.status_code for answer in answers] == [303, 303]
    assert await User.all().count() == 1
    for client in clients:
        assert await who_is_signed_in(client) == "三姐"
        await client.aclose()


AppWith = Callable[..., Starlette]


@pytest.fixture
async def app_with(settings: Settings, wired: AppWiring) -> AsyncIterator[AppWith]:
    """Build apps whose settings differ from the run's in the given fields."""
    built: list[Starlette] = []

    def build(**changes: object) -> Starlette:
        app = create_app(
            replace(settings, **changes),  # type: ignore[arg-type]
            manage_database=False,
            background_tasks=False,
            wired=wired,
        )
        built.append(app)
        return app

    yield build
    for app in built:
        await app.state.counter.aclose()
        await app.state.payments_provider.aclose()
        app.state.pictures.close()


async def test_wechat_unreachable_is_a_503_page_not_a_500(app_with: AppWith) -> None:
    async with browser(app_with(wechat_api_base="http://127.0.0.1:9")) as web:
        state = _params(await start(web))["state"]
        answer = await web.get("/account/wechat/callback", params={"code": "a", "state": state})
    assert answer.status_code == 503 and answer.headers["retry-after"]


async def test_the_sign_in_page_offers_wechat_only_when_an_app_is_set(
    app: Starlette, app_with: AppWith
) -> None:
    async with browser(app) as web:
        assert "/account/wechat/start" in (await web.get("/account/login")).text
    async with browser(app_with(wechat_official=None, wechat_website=None)) as web:
        assert "/account/wechat/start" not in (await web.get("/account/login")).text
        assert (await web.get("/account/wechat/start")).status_code == 404


async def test_an_account_made_without_a_unionid_takes_it_when_wechat_gives_one(
    app: Starlette, wechat_url: str
) -> None:
    """An account made while its app was not yet bound to the Open Platform account is known
    by its openid; once WeChat gives the person's unionid, the identity takes it, so the
    person's other app (here the official account) finds the same account."""
    async with browser(app) as computer:
        page = await first_sign_in_on_a_computer(computer, wechat_url, "林黛玉")
        await computer.post(
            "/account/wechat/finish",
            data={"csrf_token": csrf_from(page.text), "display_name": "颦儿"},
        )
    [identity] = await Identity.filter(kind="wechat")
    [opened] = await WechatOpenid.filter(identity_id=identity.id)
    # As if it had been made before the binding: known by its openid only.
    await Identity.filter(id=identity.id).update(subject=f"openid:{opened.app_id}:{opened.openid}")
    async with browser(app) as computer:
        callback = await on_the_computer(wechat_url, await start(computer), "林黛玉")
        back = await come_back(computer, callback)
        assert back.status_code == 303
    assert (await Identity.get(id=identity.id)).subject == identity.subject  # the unionid
    async with browser(app, user_agent=IN_WECHAT) as phone:
        silent, _ = await on_the_phone(wechat_url, await start(phone), "林黛玉")
        upgraded = await come_back(phone, silent)
        consented, _ = await on_the_phone(wechat_url, upgraded.headers["location"], "林黛玉")
        assert (await come_back(phone, consented)).status_code == 303
        assert await who_is_signed_in(phone) == "颦儿"
    assert await User.all().count() == 1


async def test_an_avatar_is_fetched_only_from_wechats_picture_hosts(app: Starlette) -> None:
    """The server fetches the avatar WeChat names: an address elsewhere (inside our own
    network, say) is never asked."""
    client = WechatClient.from_settings(app.state.settings)
    assert await client.avatar("http://169.254.169.254/latest/meta-data/") is None
    on_wechat = f"{app.state.settings.wechat_api_base}/avatar/somebody/132"
    assert (await client.avatar(on_wechat) or b"")[:8] == b"\x89PNG\r\n\x1a\n"
