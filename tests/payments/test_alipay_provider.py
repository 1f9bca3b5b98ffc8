"""The Alipay open API provider: its signatures, amounts and URLs against keys made here with
`cryptography` directly (and forgeries), its client against answers made here (unsigned,
oversized, refusals), then every call over real HTTP against the stand-in
(devserver/alipay.py)."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devserver.alipay_keys import APP_ID, SELLER_ID
from payments.alipay_messages import fen_of, order_number, yuan
from payments.alipay_provider import AlipayProvider
from payments.alipay_signatures import (
    MESSAGE_UNSIGNED,
    REQUEST_UNSIGNED,
    BadSignature,
    content_to_sign,
    signed_answer,
    verify_params,
)
from payments.provider import (
    MAX_URL_LENGTH,
    Intent,
    ProviderError,
    ProviderEventError,
    ProviderSignatureError,
    ProviderUnavailable,
    WebhookMessage,
)
from tests.conftest import AlipayStandIn
from tests.live import free_port
from tests.payments.conftest import serving

NOTIFY_URL = "http://127.0.0.1:9/payments/notify/alipay"
RETURN_URL = "http://testserver/payments/42/alipay-return"


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _sign(key: rsa.RSAPrivateKey, content: str) -> str:
    return base64.b64encode(
        key.sign(content.encode(), padding.PKCS1v15(), hashes.SHA256())
    ).decode()


def _metadata(payment_id: int | str, subject_id: str = "42") -> dict[str, str]:
    return {"payment_id": str(payment_id), "purpose": "order", "subject_id": subject_id}


# --- Unit: signatures, amounts and URLs, with keys made here ------------------------------


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def alipay_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _offline_provider(
    app_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey, gateway: str
) -> AlipayProvider:
    return AlipayProvider(
        gateway=gateway,
        app_id=APP_ID,
        app_private_key_pem=_pem(app_key),
        alipay_public_key_pem=_public_pem(alipay_key),
        notify_url=NOTIFY_URL,
    )


@pytest.fixture
async def offline(
    app_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> AsyncIterator[AlipayProvider]:
    """A provider that knows `alipay_key` as Alipay's; its gateway answers nothing."""
    provider = _offline_provider(app_key, alipay_key, f"http://127.0.0.1:{free_port()}/gateway.do")
    yield provider
    await provider.aclose()


def test_the_string_to_sign_is_sorted_raw_and_leaves_out_empty_values_and_the_signature() -> None:
    params = {
        "timestamp": "2026-12-07 10:34:56",
        "app_id": APP_ID,
        "biz_content": '{"subject":"书院 & 订单","total_amount":"12.34"}',
        "sign_type": "RSA2",
        "sign": "c2lnbg==",
        "notify_url": "",
        "method": "alipay.trade.query",
    }
    assert content_to_sign(params, unsigned=REQUEST_UNSIGNED) == (
        f"app_id={APP_ID}"
        '&biz_content={"subject":"书院 & 订单","total_amount":"12.34"}'
        "&method=alipay.trade.query&sign_type=RSA2&timestamp=2026-12-07 10:34:56"
    )
    # A notification's and a return's leave out sign_type too.
    assert content_to_sign(params, unsigned=MESSAGE_UNSIGNED) == (
        f"app_id={APP_ID}"
        '&biz_content={"subject":"书院 & 订单","total_amount":"12.34"}'
        "&method=alipay.trade.query&timestamp=2026-12-07 10:34:56"
    )


def _signed_message(key: rsa.RSAPrivateKey, params: dict[str, str]) -> dict[str, str]:
    """Parameters signed the way Alipay signs a notification or a return."""
    content = content_to_sign(params, unsigned=MESSAGE_UNSIGNED)
    return {**params, "sign_type": "RSA2", "sign": _sign(key, content)}


def test_a_message_verifies_and_a_tampered_value_does_not(alipay_key: rsa.RSAPrivateKey) -> None:
    params = _signed_message(
        alipay_key,
        {"out_trade_no": "ali7e261207031500x0a1b2c3d", "total_amount": "12.34", "subject": "书院"},
    )
    verify_params(alipay_key.public_key(), params)
    with pytest.raises(BadSignature, match="does not verify"):
        verify_params(alipay_key.public_key(), {**params, "total_amount": "12.35"})
    with pytest.raises(BadSignature, match="missing"):
        verify_params(alipay_key.public_key(), {**params, "sign": ""})
    with pytest.raises(BadSignature, match="base64"):
        verify_params(alipay_key.public_key(), {**params, "sign": "not base64!"})
    with pytest.raises(BadSignature, match="RSA2"):
        verify_params(alipay_key.public_key(), {**params, "sign_type": "RSA"})


def test_an_answers_signed_text_is_taken_exactly_as_it_stands_in_the_body() -> None:
    inner = (
        '{"code":"10000","msg":"Success","buyer_logon_id":"sho***@example.com",'
        '"detail":{"items":[{"name":"书院 \\"会员\\"","fen":[1,2]},{}],"note":"}{,"},'
        '"subject":"支付宝\\u4e2d"}'
    )
    body = f'{{"alipay_trade_query_response":{inner},"sign":"c2lnbg=="}}'
    text, answer, signature = signed_answer(body, "alipay.trade.query")
    assert text == inner and signature == "c2lnbg=="
    assert answer["detail"]["items"][0]["name"] == '书院 "会员"'
    assert answer["subject"] == "支付宝中"
    # The same object written twice: the first (the text checked) is not what json keeps.
    twice = f'{{"alipay_trade_query_response":{inner},"alipay_trade_query_response":{{}}}}'
    with pytest.raises(ValueError, match="twice"):
        signed_answer(twice, "alipay.trade.query")
    with pytest.raises(ValueError, match="no alipay_trade_close_response"):
        signed_answer(body, "alipay.trade.close")


def test_amounts_are_exact_yuan_text_both_ways() -> None:
    assert (yuan(1), yuan(1234), yuan(100000000)) == ("0.01", "12.34", "1000000.00")
    assert yuan(100_000_000_00) == "100000000.00"
    for fen in (0, -1, 100_000_000_01):
        with pytest.raises(ValueError):
            yuan(fen)
    with pytest.raises(ValueError):
        yuan(True)
    # 0.29 * 100 is 28.999999999999996 as a float: not here.
    assert (fen_of("0.29"), fen_of("1.13"), fen_of("12.3"), fen_of("7")) == (29, 113, 1230, 700)
    assert all(fen_of(yuan(fen)) == fen for fen in range(1, 20_000))
    assert fen_of("100000000.00") == 100_000_000_00
    for wrong in ("1.234", "-1.00", "1e3", " 1.00", "01.00", "１.00", "", "100000000.01"):
        with pytest.raises(ProviderEventError):
            fen_of(wrong)


def _url_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True, strict_parsing=True))


def _intent_arguments(payment_id: int, **changes: Any) -> dict[str, Any]:
    return {
        "amount": 1234,
        "currency": "cny",
        "method": "alipay",
        "metadata": _metadata(payment_id, subject_id=f"s{payment_id}"),
        "idempotency_key": f"shuyuan-intent-{payment_id}",
        "expires_at": datetime.now(UTC) + timedelta(minutes=10),
        "description": f"书院微店订单 s{payment_id}",
        "return_url": RETURN_URL,
        **changes,
    }


async def test_a_page_url_is_signed_by_the_application_and_says_the_trade(
    offline: AlipayProvider, app_key: rsa.RSAPrivateKey
) -> None:
    expires_at = datetime(2026, 12, 7, 3, 15, 0, 999_999, tzinfo=UTC)
    intent = await offline.create_intent(**_intent_arguments(42, expires_at=expires_at))
    assert intent.status == "requires_action" and intent.amount == 1234
    assert intent.id.startswith("ali42e261207031500x") and offline.owns(intent.id)
    assert intent.wallet_action is not None and intent.wallet_action.url is not None
    assert intent.wallet_action.type == "alipay_handle_redirect"
    params = _url_params(intent.wallet_action.url)
    assert params["method"] == "alipay.trade.page.pay" and params["app_id"] == APP_ID
    assert (params["notify_url"], params["return_url"]) == (NOTIFY_URL, RETURN_URL)
    app_key.public_key().verify(
        base64.b64decode(params["sign"]),
        content_to_sign(params, unsigned=REQUEST_UNSIGNED).encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    biz = json.loads(params["biz_content"])
    assert biz == {
        "out_trade_no": intent.id,
        "total_amount": "12.34",
        "subject": "书院微店订单 s42",
        "product_code": "FAST_INSTANT_TRADE_PAY",
        "time_expire": "2026-12-07 11:15:00",  # Asia/Shanghai
        "passback_params": "payment_id=42&purpose=order&subject_id=s42",
    }
    wap = await offline.create_intent(**_intent_arguments(43, flow="wap"))
    assert wap.wallet_action is not None and wap.wallet_action.url is not None
    wap_params = _url_params(wap.wallet_action.url)
    assert wap_params["method"] == "alipay.trade.wap.pay"
    biz = json.loads(wap_params["biz_content"])
    assert (biz["product_code"], biz["quit_url"]) == ("QUICK_WAP_WAY", RETURN_URL)


async def test_a_long_subject_is_cut_to_fit_the_url_the_same_way_each_time(
    offline: AlipayProvider,
) -> None:
    # Each / is written %2F in the URL, in biz_content's quit_url and in return_url.
    long_return = (RETURN_URL + "?next=" + "/" * 80)[:256]
    arguments = _intent_arguments(
        44, flow="wap", description="书院/会员=年费&" * 40, return_url=long_return
    )
    intent = await offline.create_intent(**arguments)
    assert intent.wallet_action is not None and intent.wallet_action.url is not None
    url = intent.wallet_action.url
    assert len(url) <= MAX_URL_LENGTH
    subject = json.loads(_url_params(url)["biz_content"])["subject"]
    assert 10 < len(subject) < 256 and subject.startswith("书院／会员＝年费＆书院")
    fresh = await offline.refresh_action(
        intent.id,
        amount=1234,
        currency="cny",
        metadata=intent.metadata,
        flow="wap",
        payer=None,
        expires_at=None,
        description=arguments["description"],
        return_url=long_return,
    )
    assert fresh.url is not None
    assert json.loads(_url_params(fresh.url)["biz_content"])["subject"] == subject
    crowded = (RETURN_URL + "?next=" + "/" * 256)[:256]
    with pytest.raises(ValueError, match="no room"):
        await offline.create_intent(**{**arguments, "return_url": crowded})
    with pytest.raises(ProviderError, match="256") as refused:
        await offline.create_intent(**{**arguments, "return_url": RETURN_URL + "x" * 256})
    assert refused.value.param == "return_url"  # the caller's 422 names the field


async def test_payments_alipay_cannot_describe_are_refused_before_any_call(
    offline: AlipayProvider,
) -> None:
    arguments = _intent_arguments(45)
    for changes, refusal in (
        ({"expires_at": None}, "expires_at"),
        ({"return_url": None}, "return_url"),
        ({"currency": "usd"}, "cny"),
        ({"amount": 0}, "fen"),
        ({"metadata": {"payment_id": "4-5"}}, "payment_id"),
        ({"expires_at": datetime(2026, 12, 7, 3, 15)}, "timezone"),  # noqa: DTZ001
    ):
        with pytest.raises(ValueError, match=refusal):
            await offline.create_intent(**{**arguments, **changes})
    for changes, code in (
        ({"method": "card"}, "method_unsupported"),
        ({"flow": "native"}, "flow_unsupported"),
    ):
        with pytest.raises(ProviderError) as refused:
            await offline.create_intent(**{**arguments, **changes})
        assert refused.value.code == code
    intent = await offline.create_intent(**arguments)
    with pytest.raises(ProviderError) as refused:
        await offline.refresh_action(
            intent.id,
            amount=1234,
            currency="cny",
            metadata=intent.metadata,
            flow="page",
            payer=None,
            expires_at=None,
            description="",
        )
    assert refused.value.code == "flow_unsupported"


def test_only_our_order_numbers_are_ours(offline: AlipayProvider) -> None:
    assert offline.owns("ali42e261207031500x1a2b3c4d")
    for other in (
        "pi_123",
        "wxp42x1a2b3c4d",
        "ali42e261307031500x1a2b3c4d",
        "ali42x1a2b3c4d",
        "ali4-2e261207031500x1a2b3c4d",
        "ali42e261207031500x1A2B3C4D",
    ):
        assert not offline.owns(other)
    order = order_number("aliabc9e991231235959xffffffff")
    assert order is not None and order.payment_id == "abc9"
    assert order.expires_at == datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)


# --- Unit: notifications and returns, signed here -----------------------------------------


def _notification_params(
    out_trade_no: str = "ali7e991207031500x0a1b2c3d", status: str = "TRADE_SUCCESS", **more: str
) -> dict[str, str]:
    params = {
        "notify_time": "2026-12-07 10:34:56",
        "notify_type": "trade_status_sync",
        "notify_id": "2026120700222103456000001",
        "charset": "utf-8",
        "version": "1.0",
        "app_id": APP_ID,
        "auth_app_id": APP_ID,
        "trade_no": "2026120722001400000000000001",
        "out_trade_no": out_trade_no,
        "buyer_id": "2088000000000123",
        "seller_id": SELLER_ID,
        "trade_status": status,
        "total_amount": "12.34",
        "receipt_amount": "12.34",
        "buyer_pay_amount": "12.34",
        "subject": "书院微店订单 & 会员",
        "gmt_create": "2026-12-07 10:30:00",
        "gmt_payment": "2026-12-07 10:34:55",
        "passback_params": "payment_id=7&purpose=order&subject_id=42",
    }
    return {**params, **more}


def _body(params: dict[str, str]) -> bytes:
    return urlencode(params).encode()


def test_a_signed_notification_is_verified_and_read(
    offline: AlipayProvider, alipay_key: rsa.RSAPrivateKey
) -> None:
    message = offline.verify_webhook(_body(_signed_message(alipay_key, _notification_params())), {})
    assert message.id == "alipay:2026120700222103456000001"
    assert message.type == "payment_intent.succeeded"
    assert message.object["subject"] == "书院微店订单 & 会员"
    intent = offline.intent_of(message)
    assert (intent.id, intent.status, intent.amount, intent.currency) == (
        "ali7e991207031500x0a1b2c3d",
        "succeeded",
        1234,
        "cny",
    )
    assert intent.metadata == _metadata(7)


def test_notifications_are_named_by_what_they_report(
    offline: AlipayProvider, alipay_key: rsa.RSAPrivateKey
) -> None:
    unpaid = {"gmt_payment": ""}
    refund = {"out_biz_no": "ali7e991207031500x0a1b2c3dr0123456789abcdef", "refund_fee": "2.00"}
    for status, more, ours in (
        ("TRADE_FINISHED", {}, "payment_intent.succeeded"),
        ("TRADE_CLOSED", unpaid, "payment_intent.canceled"),
        ("TRADE_SUCCESS", refund, "refund.succeeded"),
        ("TRADE_CLOSED", refund, "refund.succeeded"),
        ("TRADE_CLOSED", {}, "alipay.trade_closed"),
        ("WAIT_BUYER_PAY", unpaid, "alipay.wait_buyer_pay"),
    ):
        params = _signed_message(alipay_key, _notification_params(status=status, **more))
        assert offline.verify_webhook(_body(params), {}).type == ours
    closed = _signed_message(
        alipay_key,
        _notification_params(
            "ali7e200101000000x0a1b2c3d", "TRADE_CLOSED", gmt_payment="", passback_params=""
        ),
    )
    intent = offline.intent_of(offline.verify_webhook(_body(closed), {}))
    assert (intent.status, intent.error_code) == ("canceled", "expired")
    assert intent.metadata == {"payment_id": "7"}


def test_a_notification_signed_by_another_key_is_refused(offline: AlipayProvider) -> None:
    another = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = _signed_message(another, _notification_params())
    with pytest.raises(ProviderSignatureError, match="does not verify"):
        offline.verify_webhook(_body(forged), {})


def test_a_tampered_or_unsigned_notification_is_refused(
    offline: AlipayProvider, alipay_key: rsa.RSAPrivateKey
) -> None:
    params = _signed_message(alipay_key, _notification_params())
    for tampered, refusal in (
        ({**params, "total_amount": "0.01"}, "does not verify"),
        ({**params, "refund_fee": "12.34"}, "does not verify"),  # a field added
        ({key: value for key, value in params.items() if key != "sign"}, "missing"),
    ):
        with pytest.raises(ProviderSignatureError, match=refusal):
            offline.verify_webhook(_body(tampered), {})


def test_an_unreadable_notification_is_a_signature_error_and_an_oversized_one_an_event_error(
    offline: AlipayProvider, alipay_key: rsa.RSAPrivateKey
) -> None:
    body = _body(_signed_message(alipay_key, _notification_params()))
    for unreadable in (
        b"\xff\xfe" + body,
        body + b"&total_amount=0.01",
        body + b"&&",
        b"a=%FF",
        b"a=1&" * 61,
        body + b"&x=" + b"y" * 3000,
    ):
        with pytest.raises(ProviderSignatureError, match="cannot be read"):
            offline.verify_webhook(unreadable, {})
    with pytest.raises(ProviderEventError, match="bytes"):
        offline.verify_webhook(b"a=" + b"1" * 17_000, {})


def test_a_signed_notification_for_another_application_is_an_event_error(
    offline: AlipayProvider, alipay_key: rsa.RSAPrivateKey
) -> None:
    params = _signed_message(alipay_key, _notification_params(app_id="9021000100000002"))
    with pytest.raises(ProviderEventError, match="another application"):
        offline.verify_webhook(_body(params), {})


def test_a_malformed_trade_in_a_notification_is_an_event_error(offline: AlipayProvider) -> None:
    for broken in (
        _notification_params(status="TRADE_PAID_TWICE"),
        _notification_params(total_amount="12.345"),
        _notification_params(out_trade_no="pi_123"),
        _notification_params(passback_params="payment_id=8&purpose=order&subject_id=42"),
        {**_notification_params(), "total_amount": 1234},
    ):
        message = WebhookMessage(id="n", type="payment_intent.succeeded", object=broken)
        with pytest.raises(ProviderEventError):
            offline.intent_of(message)


def test_a_signed_return_names_its_trade_and_a_forged_one_is_refused(
    offline: AlipayProvider, alipay_key: rsa.RSAPrivateKey
) -> None:
    params = {
        "charset": "utf-8",
        "out_trade_no": "ali7e991207031500x0a1b2c3d",
        "method": "alipay.trade.page.pay.return",
        "total_amount": "12.34",
        "trade_no": "2026120722001400000000000001",
        "auth_app_id": APP_ID,
        "version": "1.0",
        "app_id": APP_ID,
        "seller_id": SELLER_ID,
        "timestamp": "2026-12-07 10:34:57",
    }
    assert offline.verify_return(_signed_message(alipay_key, params)) == params["out_trade_no"]
    another = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for refused in (
        _signed_message(another, params),
        {**_signed_message(alipay_key, params), "total_amount": "0.01"},
        params,
        _signed_message(alipay_key, {**params, "app_id": "9021000100000002"}),
        _signed_message(alipay_key, {**params, "out_trade_no": "pi_123"}),
        {**_signed_message(alipay_key, params), "x": "y" * 3000},
    ):
        with pytest.raises(ProviderSignatureError):
            offline.verify_return(refused)


# --- Unit: the client against answers made here -------------------------------------------

Answer = Callable[[str, dict[str, str]], Response]


@asynccontextmanager
async def _answered_by(
    answer: Answer, app_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> AsyncIterator[AlipayProvider]:
    """A provider whose gateway, here, answers each call with `answer(method, params)`."""

    async def gateway(request: Request) -> Response:
        params = dict(parse_qsl((await request.body()).decode()))
        return answer(params["method"], params)

    app = Starlette(routes=[Route("/gateway.do", gateway, methods=["POST"])])
    async with serving(app) as url:
        provider = _offline_provider(app_key, alipay_key, f"{url}/gateway.do")
        try:
            yield provider
        finally:
            await provider.aclose()


def _answer_body(method: str, inner: dict[str, Any], key: rsa.RSAPrivateKey | None) -> str:
    """An answer as Alipay writes one: compact, signed over the object's exact text."""
    text = json.dumps(inner, ensure_ascii=False, separators=(",", ":"))
    signature = f',"sign":"{_sign(key, text)}"' if key is not None else ""
    return f'{{"{method.replace(".", "_")}_response":{text}{signature}}}'


def _json(body: str | bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json;charset=utf-8")


TRADE = {
    "code": "10000",
    "msg": "Success",
    "out_trade_no": "ali7e991207031500x0a1b2c3d",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "12.34",
}


def _answers_that_say_nothing(alipay_key: rsa.RSAPrivateKey) -> list[tuple[Answer, str]]:
    """Answers to a query, each with what the provider says of it."""
    another = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    unsigned_refusal = {
        "error_response": {
            "code": "40002",
            "msg": "Invalid Arguments",
            "sub_code": "isv.invalid-signature",
            "sub_msg": "验签出错",
        }
    }
    alipays_trouble = {
        "code": "20000",
        "msg": "Service Currently Unavailable",
        "sub_code": "isp.unknow-error",
        "sub_msg": "系统繁忙",
    }

    def signed(inner: dict[str, Any], key: rsa.RSAPrivateKey | None = alipay_key) -> Answer:
        return lambda method, _: _json(_answer_body(method, inner, key))

    return [
        (signed(TRADE, None), "signature is missing"),
        (signed(TRADE, another), "does not verify"),
        (lambda _, __: _json(json.dumps(unsigned_refusal)), "isv.invalid-signature"),
        (lambda _, __: _json("<html>系统忙</html>"), "not JSON"),
        (lambda method, _: _json(_answer_body(method, TRADE, alipay_key), 502), "502"),
        (lambda _, __: _json('{"x":"' + "y" * 70_000 + '"}'), "64 KiB"),
        (lambda _, __: _json(b'{"\xff":1}'), "UTF-8"),
        (signed(alipays_trouble), "20000"),
        (signed({**TRADE, "out_trade_no": "ali8e991207031500x0a1b2c3d"}), "another trade"),
        (signed({**TRADE, "total_amount": "12.345"}), "amount in yuan"),
    ]


async def test_answers_that_say_nothing_are_unavailable(
    app_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> None:
    for answer, reason in _answers_that_say_nothing(alipay_key):
        async with _answered_by(answer, app_key, alipay_key) as provider:
            with pytest.raises(ProviderUnavailable, match=reason):
                await provider.retrieve_intent("ali7e991207031500x0a1b2c3d")


async def test_a_signed_refusal_is_a_provider_error_with_alipays_sub_code(
    app_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> None:
    refusal = {
        "code": "40004",
        "msg": "Business Failed",
        "sub_code": "ACQ.TRADE_HAS_SUCCESS",
        "sub_msg": "交易已被支付",
    }
    seen: list[dict[str, str]] = []

    def answer(method: str, params: dict[str, str]) -> Response:
        seen.append(params)
        return _json(_answer_body(method, refusal, alipay_key))

    async with _answered_by(answer, app_key, alipay_key) as provider:
        with pytest.raises(ProviderError) as refused:
            await provider.cancel_intent("ali7e991207031500x0a1b2c3d")
    assert (refused.value.code, refused.value.message) == ("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
    assert not refused.value.missing
    # The request as Alipay reads it: the common parameters, signed by the application.
    params = seen[0]
    assert params["method"] == "alipay.trade.close" and params["charset"] == "utf-8"
    assert json.loads(params["biz_content"]) == {"out_trade_no": "ali7e991207031500x0a1b2c3d"}
    app_key.public_key().verify(
        base64.b64decode(params["sign"]),
        content_to_sign(params, unsigned=REQUEST_UNSIGNED).encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    stamp = datetime.strptime(params["timestamp"] + "+0800", "%Y-%m-%d %H:%M:%S%z")
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 5


def _scripted(alipay_key: rsa.RSAPrivateKey, answers: dict[str, list[dict[str, Any]]]) -> Answer:
    """A gateway answering each method with the next of its signed `answers`."""

    def answer(method: str, params: dict[str, str]) -> Response:
        return _json(_answer_body(method, answers[method].pop(0), alipay_key))

    return answer


async def test_a_waiting_trade_past_its_expiry_is_closed_before_it_reads_canceled(
    app_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> None:
    # Alipay still says WAIT_BUYER_PAY a minute after the time_expire in the number.
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%y%m%d%H%M%S")
    out_trade_no = f"ali7e{past}x0a1b2c3d"
    waiting = {**TRADE, "out_trade_no": out_trade_no, "trade_status": "WAIT_BUYER_PAY"}
    closed = {"code": "10000", "msg": "Success", "out_trade_no": out_trade_no}
    answers = {"alipay.trade.query": [waiting], "alipay.trade.close": [closed]}
    async with _answered_by(_scripted(alipay_key, answers), app_key, alipay_key) as provider:
        expired = await provider.retrieve_intent(out_trade_no)
    assert (expired.status, expired.error_code) == ("canceled", "expired")
    assert answers == {"alipay.trade.query": [], "alipay.trade.close": []}
    # The buyer paid between our read and our close: the close finds it paid, and says so.
    paid = {**TRADE, "out_trade_no": out_trade_no, "send_pay_date": "2026-12-07 11:14:59"}
    status_error = {
        "code": "40004",
        "msg": "Business Failed",
        "sub_code": "ACQ.TRADE_STATUS_ERROR",
        "sub_msg": "交易状态不合法",
    }
    answers = {"alipay.trade.query": [waiting, paid], "alipay.trade.close": [status_error]}
    async with _answered_by(_scripted(alipay_key, answers), app_key, alipay_key) as provider:
        read = await provider.retrieve_intent(out_trade_no)
    assert (read.status, read.amount, read.metadata) == ("succeeded", 1234, {"payment_id": "7"})


async def test_a_waiting_trade_within_the_clock_slack_is_not_closed(
    app_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> None:
    # Its time_expire is a second ago by our clock: Alipay's may not have reached it yet.
    just_past = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%y%m%d%H%M%S")
    out_trade_no = f"ali7e{just_past}x0a1b2c3d"
    waiting = {**TRADE, "out_trade_no": out_trade_no, "trade_status": "WAIT_BUYER_PAY"}
    answers: dict[str, list[dict[str, Any]]] = {"alipay.trade.query": [waiting]}
    async with _answered_by(_scripted(alipay_key, answers), app_key, alipay_key) as provider:
        assert (await provider.retrieve_intent(out_trade_no)).status == "requires_action"


# --- Integration: over real HTTP against the stand-in -------------------------------------


def _provider(
    alipay: AlipayStandIn,
    *,
    notify_url: str = NOTIFY_URL,
    alipay_public_key_pem: bytes | None = None,
    gateway: str | None = None,
    app_id: str = APP_ID,
) -> AlipayProvider:
    return AlipayProvider(
        gateway=gateway or alipay.gateway,
        app_id=app_id,
        app_private_key_pem=alipay.keys.app_private_key.read_bytes(),
        alipay_public_key_pem=alipay_public_key_pem or alipay.keys.alipay_public_key.read_bytes(),
        notify_url=notify_url,
    )


@pytest.fixture
async def ali(alipay: AlipayStandIn) -> AsyncIterator[AlipayProvider]:
    provider = _provider(alipay)
    yield provider
    await provider.aclose()


_payment_ids = iter(range(1000, 10**6))


async def _trade(
    provider: AlipayProvider,
    *,
    amount: int = 100,
    expires_in: float = 600,
    flow: str = "page",
    return_url: str = RETURN_URL,
) -> Intent:
    payment_id = next(_payment_ids)
    return await provider.create_intent(
        **_intent_arguments(
            payment_id,
            amount=amount,
            flow=flow,
            expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
            return_url=return_url,
        )
    )


def _url(intent: Intent) -> str:
    assert intent.wallet_action is not None and intent.wallet_action.url is not None
    return intent.wallet_action.url


async def _open(intent: Intent) -> httpx.Response:
    """The buyer's browser opens the gateway URL: Alipay makes the trade, shows the cashier."""
    async with httpx.AsyncClient() as browser:
        return await browser.get(_url(intent))


async def _opened(intent: Intent) -> str:
    """Open the cashier; its form's token."""
    page = await _open(intent)
    assert page.status_code == 200, page.text
    found = re.search(r'name="token" value="([^"]+)"', page.text)
    assert found is not None
    return html.unescape(found[1])


async def test_a_trade_opened_and_paid_reads_succeeded(
    ali: AlipayProvider, alipay: AlipayStandIn
) -> None:
    intent = await _trade(ali, amount=2345)
    assert (await ali.retrieve_intent(intent.id)).status == "requires_action"  # not opened
    page = await _open(intent)
    assert page.status_code == 200 and "¥23.45" in page.text and 'id="pay"' in page.text
    opened = await ali.retrieve_intent(intent.id)
    assert (opened.status, opened.amount) == ("requires_action", 2345)
    await alipay.control(f"/_control/trades/{intent.id}/pay", {})
    paid = await ali.retrieve_intent(intent.id)
    assert (paid.status, paid.amount, paid.currency, paid.error_code) == (
        "succeeded",
        2345,
        "cny",
        None,
    )
    assert paid.metadata == {"payment_id": intent.metadata["payment_id"]}
    assert await ali.confirm_intent(intent.id, idempotency_key="unused") == paid


async def test_a_wap_trade_opens_and_its_buyer_can_leave_by_the_return_url(
    ali: AlipayProvider, alipay: AlipayStandIn
) -> None:
    intent = await _trade(ali, flow="wap")
    token = await _opened(intent)
    async with httpx.AsyncClient(base_url=alipay.url) as browser:
        left = await browser.post("/cashier/abandon", data={"token": token})
    assert (left.status_code, left.headers["location"]) == (302, RETURN_URL)
    assert (await ali.retrieve_intent(intent.id)).status == "requires_action"


async def test_the_buyers_signed_return_names_the_trade(
    ali: AlipayProvider, alipay: AlipayStandIn
) -> None:
    return_url = "http://testserver/payments/alipay/return?payment=7"
    intent = await _trade(ali, return_url=return_url)
    token = await _opened(intent)
    async with httpx.AsyncClient(base_url=alipay.url) as browser:
        paid = await browser.post("/cashier/pay", data={"token": token})
    assert paid.status_code == 302
    location = paid.headers["location"]
    assert location.startswith(return_url + "&")
    params = _url_params(location)
    assert ali.verify_return(params) == intent.id
    with pytest.raises(ProviderSignatureError):
        ali.verify_return({**params, "out_trade_no": (await _trade(ali)).id})
    with pytest.raises(ProviderSignatureError):
        ali.verify_return({**params, "payment": "8"})
    assert (await ali.retrieve_intent(intent.id)).status == "succeeded"


async def test_a_trade_never_opened_waits_until_its_expiry_then_reads_expired(
    ali: AlipayProvider,
) -> None:
    waiting = await ali.retrieve_intent((await _trade(ali)).id)
    assert (waiting.status, waiting.error_code) == ("requires_action", None)
    over = await ali.retrieve_intent((await _trade(ali, expires_in=-10)).id)
    assert (over.status, over.error_code) == ("canceled", "expired")


async def test_an_opened_trade_past_its_expiry_reads_expired(ali: AlipayProvider) -> None:
    intent = await _trade(ali, expires_in=2.5)  # time_expire is kept to the second
    await _opened(intent)
    assert (await ali.retrieve_intent(intent.id)).status == "requires_action"
    await asyncio.sleep(2.6)
    expired = await ali.retrieve_intent(intent.id)
    assert (expired.status, expired.error_code) == ("canceled", "expired")
    assert (await _open(intent)).status_code == 400  # 交易已关闭


async def test_a_closed_trade_reads_canceled_and_a_late_payment_reads_succeeded(
    ali: AlipayProvider, alipay: AlipayStandIn
) -> None:
    intent = await _trade(ali)
    await _opened(intent)
    closed = await ali.cancel_intent(intent.id)
    assert (closed.status, closed.error_code, closed.amount) == ("canceled", "canceled", 100)
    assert (await ali.retrieve_intent(intent.id)).status == "canceled"
    page = await _open(intent)
    assert page.status_code == 400 and "TRADE_HAS_CLOSE" in page.text
    # A payment that crossed the close: Alipay has the money, and says so.
    await alipay.control(f"/_control/trades/{intent.id}/pay", {"late": True})
    assert (await ali.retrieve_intent(intent.id)).status == "succeeded"


async def test_a_trade_never_opened_is_canceled_already(ali: AlipayProvider) -> None:
    intent = await _trade(ali)
    canceled = await ali.cancel_intent(intent.id)
    assert (canceled.status, canceled.error_code) == ("canceled", "canceled")
    assert canceled.metadata == {"payment_id": intent.metadata["payment_id"]}


async def test_a_paid_trade_cannot_be_closed(ali: AlipayProvider, alipay: AlipayStandIn) -> None:
    intent = await _trade(ali)
    await _opened(intent)
    await alipay.control(f"/_control/trades/{intent.id}/pay", {})
    with pytest.raises(ProviderError) as refused:
        await ali.cancel_intent(intent.id)
    assert refused.value.code == "ACQ.TRADE_STATUS_ERROR" and not refused.value.missing


async def test_a_declined_payment_leaves_the_trade_waiting(
    ali: AlipayProvider, alipay: AlipayStandIn
) -> None:
    intent = await _trade(ali)
    await _opened(intent)
    await alipay.control(f"/_control/trades/{intent.id}/decline", {})
    assert (await ali.retrieve_intent(intent.id)).status == "requires_action"


async def test_refunds_in_parts_are_idempotent_and_never_exceed_the_payment(
    ali: AlipayProvider, alipay: AlipayStandIn
) -> None:
    intent = await _trade(ali, amount=1000)
    await _opened(intent)
    await alipay.control(f"/_control/trades/{intent.id}/pay", {})
    assert await ali.refund(intent.id, amount=300, idempotency_key="r-1") == "succeeded"
    assert await ali.refund(intent.id, amount=300, idempotency_key="r-1") == "succeeded"
    trade = await alipay.control(f"/_control/trades/{intent.id}")
    assert [refund["refund_fen"] for refund in trade["refunds"]] == [300]
    assert await ali.refund(intent.id, amount=700, idempotency_key="r-2") == "succeeded"
    with pytest.raises(ProviderError) as refused:
        await ali.refund(intent.id, amount=1, idempotency_key="r-3")
    assert refused.value.code == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    trade = await alipay.control(f"/_control/trades/{intent.id}")
    assert (trade["trade_status"], trade["refunded_fen"]) == ("TRADE_CLOSED", 1000)
    # Refunded in full, Alipay reads it closed: it was paid, so it reads succeeded.
    assert (await ali.retrieve_intent(intent.id)).status == "succeeded"


async def test_a_refund_of_a_trade_alipay_does_not_have_is_missing(
    ali: AlipayProvider,
) -> None:
    intent = await _trade(ali)
    with pytest.raises(ProviderError) as missing:
        await ali.refund(intent.id, amount=100, idempotency_key="r-1")
    assert missing.value.code == "resource_missing" and missing.value.missing
    await _opened(intent)
    with pytest.raises(ProviderError) as unpaid:
        await ali.refund(intent.id, amount=100, idempotency_key="r-1")
    assert unpaid.value.code == "ACQ.TRADE_STATUS_ERROR"


async def test_refresh_action_gives_a_fresh_url_for_the_same_trade(
    ali: AlipayProvider, alipay: AlipayStandIn
) -> None:
    intent = await _trade(ali)
    await _opened(intent)
    first = await alipay.control(f"/_control/trades/{intent.id}")
    await asyncio.sleep(1)  # a new timestamp, so a new signature
    fresh = await ali.refresh_action(
        intent.id,
        amount=intent.amount,
        currency="cny",
        metadata=intent.metadata,
        flow="page",
        payer=None,
        expires_at=None,
        description=f"书院微店订单 s{intent.metadata['payment_id']}",
        return_url=RETURN_URL,
    )
    assert fresh.url is not None and fresh.url != _url(intent)
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(fresh.url)).status_code == 200
    assert (await alipay.control(f"/_control/trades/{intent.id}"))["trade_no"] == first["trade_no"]


@asynccontextmanager
async def _notifications_heard(
    alipay: AlipayStandIn,
) -> AsyncIterator[tuple[AlipayProvider, list[bytes]]]:
    """A provider whose notify_url is a real endpoint here (answering `success`), and the
    bodies that endpoint heard."""
    heard: list[bytes] = []

    async def notified(request: Request) -> Response:
        heard.append(await request.body())
        return Response("success", media_type="text/plain")

    receiver = Starlette(routes=[Route("/notify", notified, methods=["POST"])])
    async with serving(receiver) as receiver_url:
        provider = _provider(alipay, notify_url=f"{receiver_url}/notify")
        try:
            yield provider, heard
        finally:
            await provider.aclose()


async def _heard(heard: list[bytes], count: int = 1) -> list[bytes]:
    for _ in range(100):
        if len(heard) >= count:
            return heard
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} notifications did not arrive in 5 s")


async def test_the_stand_ins_notifications_verify_and_a_forged_one_is_refused(
    alipay: AlipayStandIn,
) -> None:
    async with _notifications_heard(alipay) as (provider, heard):
        intent = await _trade(provider, amount=2345)
        await _opened(intent)
        await alipay.control(f"/_control/trades/{intent.id}/pay", {})
        (body,) = await _heard(heard)
        message = provider.verify_webhook(
            body, {"content-type": "application/x-www-form-urlencoded"}
        )
        assert message.type == "payment_intent.succeeded"
        assert message.id.startswith("alipay:") and len(message.id) > len("alipay:")
        notified = provider.intent_of(message)
        paid = await provider.retrieve_intent(intent.id)
        assert (notified.id, notified.status, notified.amount) == (intent.id, "succeeded", 2345)
        assert notified.metadata["payment_id"] == paid.metadata["payment_id"]
        # The same notification signed with another key than Alipay's.
        another = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        params = dict(parse_qsl(body.decode()))
        forged = _signed_message(another, {k: v for k, v in params.items() if k != "sign"})
        with pytest.raises(ProviderSignatureError, match="does not verify"):
            provider.verify_webhook(_body(forged), {})
        # A refund is notified too, and named as one.
        assert await provider.refund(intent.id, amount=345, idempotency_key="r-1") == "succeeded"
        refunded = provider.verify_webhook((await _heard(heard, 2))[1], {})
        assert refunded.type == "refund.succeeded"
        assert provider.intent_of(refunded).status == "succeeded"


async def test_a_close_is_notified_as_canceled(alipay: AlipayStandIn) -> None:
    async with _notifications_heard(alipay) as (provider, heard):
        intent = await _trade(provider)
        await _opened(intent)
        await provider.cancel_intent(intent.id)
        message = provider.verify_webhook((await _heard(heard))[0], {})
        assert message.type == "payment_intent.canceled"
        canceled = provider.intent_of(message)
        assert (canceled.status, canceled.error_code) == ("canceled", "canceled")


async def test_answers_signed_with_another_key_are_unavailable(alipay: AlipayStandIn) -> None:
    another = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    provider = _provider(alipay, alipay_public_key_pem=_public_pem(another))
    try:
        with pytest.raises(ProviderUnavailable, match="does not verify"):
            await provider.retrieve_intent("ali1e991207031500x00000000")
    finally:
        await provider.aclose()


async def test_another_application_id_is_refused_not_missing(alipay: AlipayStandIn) -> None:
    provider = _provider(alipay, app_id="9021000100000002")
    try:
        with pytest.raises(ProviderError) as refused:
            await provider.retrieve_intent("ali1e991207031500x00000000")
        assert refused.value.code == "isv.invalid-app-id" and not refused.value.missing
    finally:
        await provider.aclose()


async def test_an_unreachable_alipay_is_unavailable(alipay: AlipayStandIn) -> None:
    provider = _provider(alipay, gateway=f"http://127.0.0.1:{free_port()}/gateway.do")
    try:
        with pytest.raises(ProviderUnavailable):
            await provider.retrieve_intent("ali1e991207031500x00000000")
    finally:
        await provider.aclose()
