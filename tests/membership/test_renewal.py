"""Renewal without subscriptions: the one-tap page a renewal reminder leads to, paying the open
window's seat with the wallet paid with last time (Alipay and WeChat Pay directly, through
their stand-ins, with the app on a real port)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx

from accounts.models import User
from membership.models import Enrollment, EnrollmentStatus
from payments.models import Payment, PaymentStatus, PayMethod
from tests.factories import PASSWORD, make_user, make_window, sign_in
from tests.payments import test_alipay
from tests.payments.test_alipay import PHONE, Shop, open_cashier, press
from tests.payments.test_wallets import eventually

# The app on a real port, paying Alipay and WeChat Pay directly through their stand-ins.
shop = test_alipay.shop


async def member_ending_in(days: int, *, paid_with: PayMethod | None = None) -> User:
    """A member whose membership ends in `days`, who paid for it with `paid_with`."""
    person = await make_user()
    now = datetime.now(UTC)
    await User.filter(id=person.id).update(member_until=now + timedelta(days=days))
    if paid_with is not None:
        # Last year's payment, as payments recorded it.
        await Payment.create(
            user_id=person.id,
            purpose="membership",
            subject_id="999999",
            amount_fen=19_900,
            method=paid_with,
            flow="wap" if paid_with == PayMethod.ALIPAY else "native",
            provider="alipay" if paid_with == PayMethod.ALIPAY else "wechatpay",
            status=PaymentStatus.SUCCEEDED,
            succeeded_at=now - timedelta(days=365 - days),
        )
    return await User.get(id=person.id)


def offered(page: str) -> list[str]:
    return re.findall(r'name="method" value="([a-z_]+)"', page)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found[1]


async def test_the_renewal_page_offers_the_wallet_paid_with_last_time_first(shop: Shop) -> None:
    await make_window(now=datetime.now(UTC), seats=5)
    person = await member_ending_in(20, paid_with=PayMethod.ALIPAY)
    async with shop.client(PHONE) as phone:
        await sign_in(phone, person.email or "", PASSWORD)
        page = await phone.get("/membership/renew")
    assert page.status_code == 200
    assert offered(page.text) == ["alipay", "wechat_pay"]  # no card: it has its checkout
    assert re.search(r'value="alipay" checked', page.text)
    assert "membership/windows/" in page.text  # the bank card's way, through the checkout
    assert "¥199.00" in page.text


async def test_one_tap_holds_a_seat_pays_it_with_alipay_and_renews_from_the_end(
    shop: Shop,
) -> None:
    window = await make_window(now=datetime.now(UTC), seats=5)
    person = await member_ending_in(7, paid_with=PayMethod.ALIPAY)
    ends = person.member_until
    assert ends is not None
    async with shop.client(PHONE) as phone:
        await sign_in(phone, person.email or "", PASSWORD)
        page = await phone.get("/membership/renew")
        form = {"method": "alipay", "csrf_token": csrf_of(page.text)}
        json_please = {"Accept": "application/json"}
        tapped = await phone.post("/membership/renew", data=form, headers=json_please)
        assert tapped.status_code == 200, tapped.text
        cashier = tapped.json()["redirect"]
        assert dict(parse_qsl(urlsplit(cashier).query))["method"] == "alipay.trade.wap.pay"
        # A second tap (the buyer came back) pays the same seat, never a second one.
        again = await phone.post("/membership/renew", data=form, headers=json_please)
        assert again.status_code == 200, again.text
        assert again.json()["redirect"] == cashier
        assert await Enrollment.filter(user_id=person.id).count() == 1

        back = await press(shop, await open_cashier(cashier), "pay")
        welcome = await phone.get(back.headers["location"])
    assert welcome.status_code == 303 and welcome.headers["location"].endswith(
        "/membership/welcome"
    )
    enrollment = await Enrollment.get(user_id=person.id)
    assert enrollment.window_id == window.id  # type: ignore[attr-defined]
    assert enrollment.status == EnrollmentStatus.PAID
    renewed = await User.get(id=person.id)
    assert renewed.member_until == ends + timedelta(days=365)


async def test_one_tap_with_wechat_pay_on_a_computer_goes_to_the_qr_code(shop: Shop) -> None:
    await make_window(now=datetime.now(UTC), seats=5)
    person = await member_ending_in(25, paid_with=PayMethod.WECHAT_PAY)
    async with shop.client() as computer:
        await sign_in(computer, person.email or "", PASSWORD)
        page = await computer.get("/membership/renew")
        assert offered(page.text)[0] == "wechat_pay"
        tapped = await computer.post(
            "/membership/renew",
            data={"method": "wechat_pay", "csrf_token": csrf_of(page.text)},
        )
        assert tapped.status_code == 303  # no script: on to the waiting page
        waiting = await computer.get(tapped.headers["location"])
    assert waiting.status_code == 200
    assert "qr.svg" in waiting.text
    payment = await Payment.get(user_id=person.id, status=PaymentStatus.REQUIRES_ACTION)
    assert payment.provider == "wechatpay" and payment.flow == "native"

    async def pays() -> bool:
        async with httpx.AsyncClient() as wallet:
            control = f"{shop.settings.wechatpay_api_base}/_control/orders"
            await wallet.post(f"{control}/{payment.provider_intent_id}/pay")
        return (await Enrollment.get(user_id=person.id)).status == EnrollmentStatus.PAID

    await eventually(pays)


async def test_no_button_before_the_last_30_days_nor_without_an_open_window(shop: Shop) -> None:
    early = await member_ending_in(90, paid_with=PayMethod.ALIPAY)
    await make_window(now=datetime.now(UTC), seats=5, opens_in=timedelta(days=3))
    due = await member_ending_in(10)
    async with shop.client() as http:
        await sign_in(http, early.email or "", PASSWORD)
        page = await http.get("/membership/renew")
        assert page.status_code == 200 and offered(page.text) == []
        assert "30" in page.text  # when renewal opens for them
        token = csrf_of((await http.get("/membership")).text)  # its remind-me form
        refused = await http.post(
            "/membership/renew", data={"method": "alipay", "csrf_token": token}
        )
        assert refused.status_code == 303  # back, with the reason flashed
        assert await Enrollment.filter(user_id=early.id).count() == 0
    async with shop.client() as http:
        await sign_in(http, due.email or "", PASSWORD)
        page = await http.get("/membership/renew")
    assert offered(page.text) == []
    assert "membership/windows/" in page.text  # "tell me when enrollment opens"
