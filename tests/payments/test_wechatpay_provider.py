"""The WeChat Pay API v3 provider: its signatures and decryption against notifications made
here with `cryptography` directly (and forgeries of them), then every call over real HTTP
against the stand-in (devserver/wechatpay.py), in public-key and in certificate mode."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devserver.wechatpay_keys import (
    APIV3_KEY,
    MCHID,
    MERCHANT_SERIAL,
    PLATFORM_SERIAL,
    PUBLIC_KEY_ID,
    WechatPayKeys,
    ensure_keys,
)
from payments.provider import (
    Payer,
    ProviderError,
    ProviderEventError,
    ProviderSignatureError,
    ProviderUnavailable,
    WebhookMessage,
)
from payments.wechatpay_provider import WechatPayProvider
from payments.wechatpay_signatures import jsapi_parameters
from tests.live import free_port, stand_in
from tests.payments.conftest import serving

APPID = "wx0fficia1000001"  # the stand-in binds it to MCHID by default
NOTIFY_URL = "http://127.0.0.1:9/payments/wechatpay/notify"


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


def _metadata(payment_id: int | str, subject_id: str = "42") -> dict[str, str]:
    return {"payment_id": str(payment_id), "purpose": "order", "subject_id": subject_id}


# --- Unit: signatures and decryption, with keys made here ---------------------------------


@pytest.fixture(scope="module")
def merchant_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def platform_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def offline(
    merchant_key: rsa.RSAPrivateKey, platform_key: rsa.RSAPrivateKey
) -> AsyncIterator[WechatPayProvider]:
    """A provider that knows `platform_key` as WeChat Pay's public key; it calls nothing."""
    provider = WechatPayProvider(
        api_base=f"http://127.0.0.1:{free_port()}",
        mchid=MCHID,
        appid=APPID,
        merchant_serial=MERCHANT_SERIAL,
        private_key_pem=_pem(merchant_key),
        apiv3_key=APIV3_KEY,
        notify_url=NOTIFY_URL,
        public_key=(PUBLIC_KEY_ID, _public_pem(platform_key)),
    )
    yield provider
    await provider.aclose()


def _transaction(out_trade_no: str = "wxp7x0a1b2c3d", state: str = "SUCCESS") -> dict[str, Any]:
    return {
        "appid": APPID,
        "mchid": MCHID,
        "out_trade_no": out_trade_no,
        "transaction_id": "4200000000202612070000000001",
        "trade_type": "NATIVE",
        "trade_state": state,
        "trade_state_desc": "支付成功",
        "attach": json.dumps(_metadata(7), separators=(",", ":")),
        "amount": {"total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY"},
    }


def _notification(
    resource: dict[str, Any],
    *,
    event_type: str = "TRANSACTION.SUCCESS",
    apiv3_key: str = APIV3_KEY,
) -> bytes:
    """A notification's body as WeChat Pay makes it: its resource encrypted with AES-256-GCM."""
    nonce = secrets.token_hex(6)
    sealed = AESGCM(apiv3_key.encode()).encrypt(
        nonce.encode(), json.dumps(resource).encode(), b"transaction"
    )
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "create_time": "2026-12-07T10:34:56+08:00",
            "event_type": event_type,
            "resource_type": "encrypt-resource",
            "summary": "支付成功",
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(sealed).decode(),
                "associated_data": "transaction",
                "original_type": "transaction",
                "nonce": nonce,
            },
        }
    ).encode()


def _signed(
    body: bytes,
    key: rsa.RSAPrivateKey,
    *,
    serial: str = PUBLIC_KEY_ID,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The Wechatpay-* headers WeChat Pay sends with `body`, signed by `key`."""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    nonce = secrets.token_hex(16)
    message = f"{stamp}\n{nonce}\n".encode() + body + b"\n"
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": base64.b64encode(signature).decode(),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


def test_jsapi_pay_sign_verifies_with_the_merchant_public_key(
    merchant_key: rsa.RSAPrivateKey,
) -> None:
    jsapi = jsapi_parameters(merchant_key, appid=APPID, prepay_id="wx07103456abc")
    assert jsapi["package"] == "prepay_id=wx07103456abc" and jsapi["signType"] == "RSA"
    assert len(jsapi["nonceStr"]) == 32 and jsapi["timeStamp"].isdigit()
    message = f"{APPID}\n{jsapi['timeStamp']}\n{jsapi['nonceStr']}\n{jsapi['package']}\n"
    merchant_key.public_key().verify(
        base64.b64decode(jsapi["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def test_a_signed_notification_verifies_and_decrypts(
    offline: WechatPayProvider, platform_key: rsa.RSAPrivateKey
) -> None:
    body = _notification(_transaction())
    # Starlette's headers are lower case; any spelling must do.
    headers = {name.lower(): value for name, value in _signed(body, platform_key).items()}
    message = offline.verify_webhook(body, headers)
    assert message.id == json.loads(body)["id"]
    assert message.type == "payment_intent.succeeded"
    assert message.object["transaction_id"] == "4200000000202612070000000001"
    intent = offline.intent_of(message)
    assert (intent.id, intent.status, intent.amount) == ("wxp7x0a1b2c3d", "succeeded", 100)
    assert intent.metadata == _metadata(7)


def test_refund_and_unknown_events_are_named_as_ours(
    offline: WechatPayProvider, platform_key: rsa.RSAPrivateKey
) -> None:
    for event_type, ours in (
        ("REFUND.SUCCESS", "refund.succeeded"),
        ("REFUND.ABNORMAL", "refund.abnormal"),
        ("REFUND.CLOSED", "refund.closed"),
        ("TRANSACTION.SOMETHING_NEW", "wechatpay.transaction.something_new"),
    ):
        body = _notification({"out_trade_no": "wxp7x0a1b2c3d"}, event_type=event_type)
        assert offline.verify_webhook(body, _signed(body, platform_key)).type == ours


def test_a_notification_with_a_bad_signature_is_refused(
    offline: WechatPayProvider, platform_key: rsa.RSAPrivateKey
) -> None:
    body = _notification(_transaction())
    headers = _signed(body, platform_key)
    headers["Wechatpay-Signature"] = base64.b64encode(secrets.token_bytes(256)).decode()
    with pytest.raises(ProviderSignatureError, match="does not verify"):
        offline.verify_webhook(body, headers)


def test_a_notification_signed_by_another_key_is_refused(offline: WechatPayProvider) -> None:
    body = _notification(_transaction())
    another = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ProviderSignatureError, match="does not verify"):
        offline.verify_webhook(body, _signed(body, another))


def test_a_notification_ten_minutes_old_is_refused_as_a_replay(
    offline: WechatPayProvider, platform_key: rsa.RSAPrivateKey
) -> None:
    body = _notification(_transaction())
    headers = _signed(body, platform_key, timestamp=int(time.time()) - 600)
    with pytest.raises(ProviderSignatureError, match="replay"):
        offline.verify_webhook(body, headers)


def test_a_notification_naming_another_serial_is_refused(
    offline: WechatPayProvider, platform_key: rsa.RSAPrivateKey
) -> None:
    body = _notification(_transaction())
    headers = _signed(body, platform_key, serial=PLATFORM_SERIAL)
    with pytest.raises(ProviderSignatureError, match="serial"):
        offline.verify_webhook(body, headers)


def test_a_notification_without_its_headers_is_refused(offline: WechatPayProvider) -> None:
    with pytest.raises(ProviderSignatureError, match="missing"):
        offline.verify_webhook(_notification(_transaction()), {})


def test_a_tampered_notification_is_refused(
    offline: WechatPayProvider, platform_key: rsa.RSAPrivateKey
) -> None:
    body = _notification(_transaction())
    headers = _signed(body, platform_key)
    tampered = body.replace(b"TRANSACTION.SUCCESS", b"REFUND.SUCCESS")
    with pytest.raises(ProviderSignatureError, match="does not verify"):
        offline.verify_webhook(tampered, headers)


def test_a_resource_that_does_not_decrypt_is_refused_as_an_event_error(
    offline: WechatPayProvider, platform_key: rsa.RSAPrivateKey
) -> None:
    body = _notification(_transaction(), apiv3_key="AnotherMerchantsApiV3Key00000032")
    with pytest.raises(ProviderEventError, match="does not decrypt"):
        offline.verify_webhook(body, _signed(body, platform_key))


def test_an_oversized_notification_is_refused_before_anything_else(
    offline: WechatPayProvider,
) -> None:
    with pytest.raises(ProviderEventError, match="bytes"):
        offline.verify_webhook(b"{" + b" " * 70_000 + b"}", {})


def test_a_malformed_transaction_is_an_event_error(offline: WechatPayProvider) -> None:
    for broken in (
        {**_transaction(), "trade_state": "PAID_TWICE"},
        {**_transaction(), "amount": {"total": "100"}},
        {**_transaction(), "out_trade_no": "w" * 101},
        {**_transaction(), "attach": "not json"},
    ):
        message = WebhookMessage(id="n", type="payment_intent.succeeded", object=broken)
        with pytest.raises(ProviderEventError):
            offline.intent_of(message)


async def test_orders_we_cannot_describe_are_refused_before_any_call(
    offline: WechatPayProvider,
) -> None:
    arguments: dict[str, Any] = {
        "amount": 100,
        "currency": "cny",
        "method": "wechat_pay",
        "metadata": _metadata(7),
        "idempotency_key": "k",
    }
    with pytest.raises(ValueError, match="cny"):
        await offline.create_intent(**{**arguments, "currency": "usd"})
    with pytest.raises(ValueError, match="attach"):
        await offline.create_intent(**{**arguments, "metadata": _metadata(7, "s" * 200)})
    with pytest.raises(ProviderError) as refused:
        await offline.create_intent(**{**arguments, "method": "card"})
    assert refused.value.code == "method_unsupported"


# --- Integration: over real HTTP against the stand-in, in both of its modes ---------------


@pytest.fixture(scope="module", params=["public_key", "certificate"])
def wechatpay(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, WechatPayKeys]]:
    """The stand-in's base URL, its mode and the keys it shares with the merchant."""
    mode: str = request.param
    folder = tmp_path_factory.mktemp(f"wechatpay-{mode}")
    keys = ensure_keys(folder / "keys")
    with stand_in(
        "wechatpay",
        "--keys",
        str(keys.merchant_key.parent),
        "--mode",
        mode,
        "--quiet",
        probe="/_control/health",
        log_folder=folder,
    ) as url:
        yield url, mode, keys


def _provider(
    wechatpay: tuple[str, str, WechatPayKeys],
    *,
    notify_url: str = NOTIFY_URL,
    public_key: tuple[str, bytes] | None = None,
    api_base: str | None = None,
) -> WechatPayProvider:
    url, mode, keys = wechatpay
    if public_key is None and mode == "public_key":
        public_key = (PUBLIC_KEY_ID, keys.public_key.read_bytes())
    return WechatPayProvider(
        api_base=api_base or url,
        mchid=MCHID,
        appid=APPID,
        merchant_serial=MERCHANT_SERIAL,
        private_key_pem=keys.merchant_key.read_bytes(),
        apiv3_key=APIV3_KEY,
        notify_url=notify_url,
        public_key=public_key,
    )


@pytest.fixture
async def wxpay(wechatpay: tuple[str, str, WechatPayKeys]) -> AsyncIterator[WechatPayProvider]:
    provider = _provider(wechatpay)
    yield provider
    await provider.aclose()


_payment_ids = iter(range(1000, 10**6))


async def _order(
    provider: WechatPayProvider,
    *,
    flow: str = "native",
    amount: int = 100,
    expires_in: float = 600,
    payer: Payer | None = None,
) -> Any:
    payment_id = next(_payment_ids)
    return await provider.create_intent(
        amount=amount,
        currency="cny",
        method="wechat_pay",
        metadata=_metadata(payment_id, subject_id=f"s{payment_id}"),
        idempotency_key=f"shuyuan-intent-{payment_id}",
        flow=flow,  # type: ignore[arg-type]
        payer=payer,
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
        description=f"书院微店订单 s{payment_id}",
    )


async def _control(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    async with httpx.AsyncClient(base_url=url) as http:
        response = await (http.post(path, json=body or {}) if body is not None else http.get(path))
        response.raise_for_status()
        return response.json()


async def test_native_h5_and_jsapi_orders_wait_for_their_buyer(
    wxpay: WechatPayProvider, wechatpay: tuple[str, str, WechatPayKeys]
) -> None:
    url, _, keys = wechatpay
    native = await _order(wxpay)
    assert native.id.startswith("wxp") and wxpay.owns(native.id)
    assert native.status == "requires_action" and native.wallet_action.type == (
        "wechat_pay_display_qr_code"
    )
    assert native.wallet_action.qr_data.startswith("weixin://wxpay/bizpayurl?pr=")
    h5 = await _order(wxpay, flow="h5", payer=Payer(address="203.0.113.7"))
    assert h5.wallet_action.type == "wechat_pay_h5"
    assert h5.wallet_action.url.startswith(f"{url}/pay/h5?")
    jsapi = await _order(wxpay, flow="jsapi", payer=Payer(openid="oBuyer000000000000000000001"))
    parameters = jsapi.wallet_action.jsapi
    assert parameters["appId"] == APPID and parameters["package"].startswith("prepay_id=wx")
    merchant = x509.load_pem_x509_certificate(keys.merchant_cert.read_bytes()).public_key()
    assert isinstance(merchant, rsa.RSAPublicKey)
    signed = "".join(
        f"{parameters[name]}\n" for name in ("appId", "timeStamp", "nonceStr", "package")
    )
    merchant.verify(
        base64.b64decode(parameters["paySign"]),
        signed.encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    for placed in (native, h5, jsapi):
        read = await wxpay.retrieve_intent(placed.id)
        assert (read.status, read.amount, read.currency) == ("requires_action", 100, "cny")
        assert read.metadata == placed.metadata
        assert await wxpay.confirm_intent(placed.id, idempotency_key="unused") == read


@asynccontextmanager
async def _notifications_heard(
    wechatpay: tuple[str, str, WechatPayKeys],
) -> AsyncIterator[tuple[WechatPayProvider, list[tuple[bytes, dict[str, str]]]]]:
    """A provider whose notify_url is a real endpoint here, and what that endpoint heard."""
    heard: list[tuple[bytes, dict[str, str]]] = []

    async def notified(request: Request) -> Response:
        heard.append((await request.body(), dict(request.headers)))
        return Response(status_code=204)

    receiver = Starlette(routes=[Route("/notify", notified, methods=["POST"])])
    async with serving(receiver) as receiver_url:
        provider = _provider(wechatpay, notify_url=f"{receiver_url}/notify")
        try:
            yield provider, heard
        finally:
            await provider.aclose()


async def _first(heard: list[tuple[bytes, dict[str, str]]]) -> tuple[bytes, dict[str, str]]:
    for _ in range(100):
        if heard:
            return heard[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no notification arrived in 5 s")


async def test_a_paid_order_reads_succeeded_and_its_notification_verifies(
    wechatpay: tuple[str, str, WechatPayKeys],
) -> None:
    async with _notifications_heard(wechatpay) as (provider, heard):
        intent = await _order(provider, amount=2345)
        await _control(wechatpay[0], f"/_control/orders/{intent.id}/pay", {})
        paid = await provider.retrieve_intent(intent.id)
        assert (paid.status, paid.amount) == ("succeeded", 2345)
        assert paid.metadata == intent.metadata and paid.error_code is None
        # The stand-in's own notification, verified and decrypted.
        body, headers = await _first(heard)
        message = provider.verify_webhook(body, headers)
        assert message.type == "payment_intent.succeeded"
        assert provider.intent_of(message) == paid


async def test_a_notification_naming_a_certificate_not_fetched_yet_is_refused_until_fetched(
    wechatpay: tuple[str, str, WechatPayKeys],
) -> None:
    if wechatpay[1] == "public_key":
        pytest.skip("public-key mode fetches no certificates")
    async with _notifications_heard(wechatpay) as (provider, heard):
        intent = await _order(provider)
        await _control(wechatpay[0], f"/_control/orders/{intent.id}/pay", {})
        body, headers = await _first(heard)
    # Another worker, which has not called WeChat Pay yet: refused (WeChat delivers it again),
    # and the certificates are fetched meanwhile.
    fresh = _provider(wechatpay)
    try:
        with pytest.raises(ProviderSignatureError, match="serial"):
            fresh.verify_webhook(body, headers)
        for _ in range(100):
            await asyncio.sleep(0.02)
            try:
                message = fresh.verify_webhook(body, headers)
                break
            except ProviderSignatureError:
                continue
        else:
            raise AssertionError("the certificates were not fetched in 2 s")
        assert fresh.intent_of(message).id == intent.id
    finally:
        await fresh.aclose()


async def test_a_declined_order_reads_requires_payment_method_with_its_code(
    wxpay: WechatPayProvider, wechatpay: tuple[str, str, WechatPayKeys]
) -> None:
    intent = await _order(wxpay)
    await _control(wechatpay[0], f"/_control/orders/{intent.id}/decline", {})
    declined = await wxpay.retrieve_intent(intent.id)
    assert declined.status == "requires_payment_method"
    assert declined.error_code == "payment_intent_payment_attempt_failed"
    assert declined.error_message


async def test_a_closed_order_reads_canceled(wxpay: WechatPayProvider) -> None:
    intent = await _order(wxpay)
    assert (await wxpay.cancel_intent(intent.id)).status == "canceled"
    assert (await wxpay.retrieve_intent(intent.id)).status == "canceled"


async def test_an_order_never_placed_is_canceled_already_and_missing_when_read(
    wxpay: WechatPayProvider,
) -> None:
    assert (await wxpay.cancel_intent("wxp1x00000000")).status == "canceled"
    with pytest.raises(ProviderError) as missing:
        await wxpay.retrieve_intent("wxp1x00000000")
    assert missing.value.code == "resource_missing" and missing.value.missing


async def test_a_close_refused_inside_the_refusal_window_is_close_refused(
    wxpay: WechatPayProvider, wechatpay: tuple[str, str, WechatPayKeys]
) -> None:
    url = wechatpay[0]
    await _control(url, "/_control/close-refusal", {"seconds": 300})
    try:
        intent = await _order(wxpay)
        with pytest.raises(ProviderError) as refused:
            await wxpay.cancel_intent(intent.id)
        assert refused.value.code == "close_refused" and not refused.value.missing
        assert (await wxpay.retrieve_intent(intent.id)).status == "requires_action"
    finally:
        await _control(url, "/_control/close-refusal", {"seconds": 0})


async def test_a_paid_order_cannot_be_closed(
    wxpay: WechatPayProvider, wechatpay: tuple[str, str, WechatPayKeys]
) -> None:
    intent = await _order(wxpay)
    await _control(wechatpay[0], f"/_control/orders/{intent.id}/pay", {})
    with pytest.raises(ProviderError) as refused:
        await wxpay.cancel_intent(intent.id)
    assert refused.value.code == "ORDERPAID"


async def test_an_unpaid_order_past_its_expiry_reads_canceled_expired(
    wxpay: WechatPayProvider,
) -> None:
    intent = await _order(wxpay, expires_in=1.2)
    assert (await wxpay.retrieve_intent(intent.id)).status == "requires_action"
    await asyncio.sleep(1.5)
    expired = await wxpay.retrieve_intent(intent.id)
    assert (expired.status, expired.error_code) == ("canceled", "expired")


async def test_refunds_in_parts_are_idempotent_and_never_exceed_the_payment(
    wxpay: WechatPayProvider, wechatpay: tuple[str, str, WechatPayKeys]
) -> None:
    url = wechatpay[0]
    intent = await _order(wxpay, amount=1000)
    await _control(url, f"/_control/orders/{intent.id}/pay", {})
    assert await wxpay.refund(intent.id, amount=300, idempotency_key="r-1") == "processing"
    again = await wxpay.refund(intent.id, amount=300, idempotency_key="r-1")
    assert again in ("processing", "success")
    assert len((await _control(url, f"/_control/orders/{intent.id}"))["refunds"]) == 1
    assert await wxpay.refund(intent.id, amount=700, idempotency_key="r-2") == "processing"
    with pytest.raises(ProviderError) as refused:
        await wxpay.refund(intent.id, amount=1, idempotency_key="r-3")
    assert refused.value.code == "NOT_ENOUGH"
    refunds = (await _control(url, f"/_control/orders/{intent.id}"))["refunds"]
    assert sorted(refund["amount"]["refund"] for refund in refunds) == [300, 700]
    assert (await wxpay.retrieve_intent(intent.id)).status == "succeeded"


async def test_refresh_action_gives_a_fresh_h5_url(wxpay: WechatPayProvider) -> None:
    payer = Payer(address="203.0.113.7")
    intent = await _order(wxpay, flow="h5", payer=payer)
    fresh = await wxpay.refresh_action(
        intent.id,
        amount=intent.amount,
        currency="cny",
        metadata=intent.metadata,
        flow="h5",
        payer=payer,
        expires_at=datetime.now(UTC) + timedelta(seconds=600),
        description=f"书院微店订单 {intent.metadata['subject_id']}",
    )
    assert fresh.type == "wechat_pay_h5" and fresh.url
    assert fresh.url != intent.wallet_action.url


async def test_an_answer_signed_with_another_key_is_unavailable(
    wechatpay: tuple[str, str, WechatPayKeys],
) -> None:
    serial = PUBLIC_KEY_ID if wechatpay[1] == "public_key" else PLATFORM_SERIAL
    another = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    provider = _provider(wechatpay, public_key=(serial, _public_pem(another)))
    try:
        with pytest.raises(ProviderUnavailable, match="does not verify"):
            await provider.retrieve_intent("wxp1x00000000")
    finally:
        await provider.aclose()


async def test_an_unreachable_wechat_pay_is_unavailable(
    wechatpay: tuple[str, str, WechatPayKeys],
) -> None:
    provider = _provider(wechatpay, api_base=f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(ProviderUnavailable):
            await _order(provider)
    finally:
        await provider.aclose()
