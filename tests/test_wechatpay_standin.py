"""The WeChat Pay stand-in (devserver/wechatpay.py) speaks API v3 over real HTTP: it checks the
merchant's signatures, signs its answers and notifications with the platform key, encrypts
with the APIv3 key, and keeps WeChat's rules for orders, payment pages and refunds. These
tests sign and verify with `cryptography` themselves, independently of the app's client."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from devserver.wechatpay_keys import (
    APIV3_KEY,
    MCHID,
    MERCHANT_SERIAL,
    PLATFORM_SERIAL,
    PUBLIC_KEY_ID,
    ensure_keys,
)
from tests.live import free_port, stand_in

APPID = "wx0fficia1000001"
FOREIGN_APPID = "wxf0reign0000001"
SHANGHAI = "+08:00"


# --- A merchant that signs by hand ---------------------------------------------------------------


def _verify(response: httpx.Response, key: rsa.RSAPublicKey) -> None:
    """WeChat Pay's signature over an answer or a notification (raises if it does not hold)."""
    headers = response.headers
    assert abs(time.time() - int(headers["wechatpay-timestamp"])) < 300
    assert headers["wechatpay-signature-type"] == "WECHATPAY2-SHA256-RSA2048"
    message = (
        f"{headers['wechatpay-timestamp']}\n{headers['wechatpay-nonce']}\n"
        f"{response.content.decode()}\n"
    )
    key.verify(
        base64.b64decode(headers["wechatpay-signature"]),
        message.encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def _rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


@dataclass
class Merchant:
    base: str
    key: rsa.RSAPrivateKey
    platform: rsa.RSAPublicKey  # pub_key.pem: what the merchant platform hands out

    def call(
        self,
        method: str,
        target: str,
        payload: dict[str, Any] | None = None,
        *,
        age: int = 0,
        serial: str = MERCHANT_SERIAL,
        key: rsa.RSAPrivateKey | None = None,
    ) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False) if payload is not None else ""
        timestamp, nonce = str(int(time.time()) - age), secrets.token_hex(16)
        signature = _rsa_sign(
            key or self.key, f"{method}\n{target}\n{timestamp}\n{nonce}\n{body}\n"
        )
        authorization = (
            f'WECHATPAY2-SHA256-RSA2048 mchid="{MCHID}",nonce_str="{nonce}",'
            f'signature="{signature}",timestamp="{timestamp}",serial_no="{serial}"'
        )
        headers = {
            "Authorization": authorization,
            "Accept": "application/json",
            "User-Agent": "shuyuan-tests",
        }
        if body:
            headers["Content-Type"] = "application/json"
        response = httpx.request(
            method, f"{self.base}{target}", content=body.encode(), headers=headers
        )
        _verify(response, self.platform)  # every answer is signed, refusals included
        return response

    def order(
        self, kind: str = "native", *, notify_url: str, **changes: Any
    ) -> tuple[str, httpx.Response]:
        out_trade_no = changes.pop("out_trade_no", f"T{secrets.token_hex(8)}")
        expire = datetime.now(UTC) + timedelta(minutes=15)
        payload: dict[str, Any] = {
            "appid": APPID,
            "mchid": MCHID,
            "description": "书院 · 月卡",
            "out_trade_no": out_trade_no,
            "time_expire": expire.astimezone().isoformat(timespec="seconds"),
            "attach": "order-1",
            "notify_url": notify_url,
            "amount": {"total": 100, "currency": "CNY"},
        }
        if kind == "h5":
            payload["scene_info"] = {"payer_client_ip": "203.0.113.7", "h5_info": {"type": "Wap"}}
        if kind == "jsapi":
            payload["payer"] = {"openid": "oBuyer0000000000000000000001"}
        payload.update(changes)
        return out_trade_no, self.call("POST", f"/v3/pay/transactions/{kind}", payload)

    def query(self, out_trade_no: str) -> dict[str, Any]:
        answer = self.call("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={MCHID}")
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def control(self, path: str, payload: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.post(f"{self.base}/_control{path}", json=payload or {})


# --- A merchant's notify_url -------------------------------------------------------------------


@dataclass
class Receiver:
    """A small HTTP server taking notifications: `/ok/<tag>` answers 200, `/fail1/<tag>`
    answers 500 to the first request and 200 after."""

    base: str
    received: list[tuple[str, dict[str, str], bytes]]

    def at(self, tag: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for path, h, b in list(self.received) if path.endswith(f"/{tag}")]

    def wait_for(
        self, tag: str, count: int, seconds: float = 5
    ) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + seconds
        while len(self.at(tag)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.at(tag)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    received: list[tuple[str, dict[str, str], bytes]] = []

    class Notified(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            received.append((self.path, headers, body))
            seen = sum(1 for path, _, _ in received if path == self.path)
            failing = self.path.startswith("/fail1/") and seen == 1
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Notified)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Receiver(f"http://127.0.0.1:{server.server_address[1]}", received)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def keys_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wechatpay-keys")
    ensure_keys(folder)
    return folder


@pytest.fixture(scope="module")
def merchant(keys_folder: Path) -> Iterator[Merchant]:
    keys = ensure_keys(keys_folder)
    arguments = ["--keys", str(keys_folder), "--appid", APPID, "--quiet"]
    with stand_in(
        "wechatpay", *arguments, probe="/_control/health", log_folder=keys_folder.parent
    ) as url:
        key = serialization.load_pem_private_key(keys.merchant_key.read_bytes(), None)
        platform = serialization.load_pem_public_key(keys.public_key.read_bytes())
        assert isinstance(key, rsa.RSAPrivateKey) and isinstance(platform, rsa.RSAPublicKey)
        yield Merchant(url, key, platform)


def _decrypt(resource: dict[str, str]) -> dict[str, Any]:
    assert resource["algorithm"] == "AEAD_AES_256_GCM" and len(resource["nonce"]) == 12
    plain = AESGCM(APIV3_KEY.encode()).decrypt(
        resource["nonce"].encode(),
        base64.b64decode(resource["ciphertext"]),
        resource["associated_data"].encode(),
    )
    result: dict[str, Any] = json.loads(plain)
    return result


def _notification(merchant: Merchant, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """A notification checked as the merchant must: signature first, then decryption."""
    _verify(httpx.Response(200, headers=headers, content=body), merchant.platform)
    assert headers["wechatpay-serial"] == PUBLIC_KEY_ID
    notice: dict[str, Any] = json.loads(body)
    assert uuid.UUID(notice["id"]).version == 4
    assert notice["resource_type"] == "encrypt-resource"
    notice["decrypted"] = _decrypt(notice["resource"])
    return notice


def _wait(check: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- Orders and signatures --------------------------------------------------------------------


def test_a_signed_native_order_reads_notpay_until_paid(
    merchant: Merchant, receiver: Receiver
) -> None:
    out_trade_no, placed = merchant.order(notify_url=f"{receiver.base}/ok/native")
    assert placed.status_code == 200, placed.text
    assert placed.json()["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    assert placed.headers["wechatpay-serial"] == PUBLIC_KEY_ID
    order = merchant.query(out_trade_no)
    assert order["trade_state"] == "NOTPAY" and order["amount"]["total"] == 100
    assert "transaction_id" not in order
    stored = httpx.get(f"{merchant.base}/_control/orders/{out_trade_no}").json()
    assert placed.json()["code_url"].endswith(stored["prepays"][0]["token"])
    assert stored["transaction"] == order and stored["refunds"] == []
    unknown = merchant.call("GET", f"/v3/pay/transactions/out-trade-no/N0SUCH1?mchid={MCHID}")
    assert unknown.status_code == 404 and unknown.json()["code"] == "ORDER_NOT_EXIST"


def test_a_bad_signature_a_stale_timestamp_or_another_serial_is_sign_error(
    merchant: Merchant,
) -> None:
    target = f"/v3/pay/transactions/out-trade-no/ABCDEF?mchid={MCHID}"
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for refused in (
        merchant.call("GET", target, key=stranger),
        merchant.call("GET", target, age=301),
        merchant.call("GET", target, serial=PLATFORM_SERIAL),
    ):
        assert refused.status_code == 401
        assert refused.json() == {"code": "SIGN_ERROR", "message": "签名错误"}
    bare = httpx.get(f"{merchant.base}{target}")
    assert bare.status_code == 401 and bare.json()["code"] == "SIGN_ERROR"


def test_an_unknown_path_and_an_oversized_body_are_refused_and_signed(merchant: Merchant) -> None:
    unknown = merchant.call("GET", "/v3/pay/no-such-thing")
    assert unknown.status_code == 404
    oversized = merchant.call("POST", "/v3/pay/transactions/native", {"description": "x" * 70_000})
    assert oversized.status_code == 400 and oversized.json()["code"] == "PARAM_ERROR"


def test_fields_are_checked_and_the_appid_must_be_bound(
    merchant: Merchant, receiver: Receiver
) -> None:
    notify_url = f"{receiver.base}/ok/fields"
    _, foreign = merchant.order(notify_url=notify_url, appid=FOREIGN_APPID)
    assert foreign.status_code == 400
    assert foreign.json() == {"code": "PARAM_ERROR", "message": "appid和mch_id不匹配"}
    wrong: list[dict[str, Any]] = [
        {"out_trade_no": "no spaces"},
        {"notify_url": "ftp://127.0.0.1/notify"},
        {"notify_url": f"{notify_url}?with=query"},
        {"amount": {"total": 0}},
        {"amount": {"total": 100, "currency": "USD"}},
        {"description": "长" * 128},
        {"time_expire": "tomorrow"},
    ]
    for changes in wrong:
        _, refused = merchant.order(**{"notify_url": notify_url, **changes})
        assert refused.status_code == 400 and refused.json()["code"] == "PARAM_ERROR", changes


def test_placing_an_order_again_follows_wechats_rules(
    merchant: Merchant, receiver: Receiver
) -> None:
    notify_url = f"{receiver.base}/ok/again"
    out_trade_no, first = merchant.order(notify_url=notify_url)
    _, again = merchant.order(notify_url=notify_url, out_trade_no=out_trade_no)
    assert again.status_code == 200 and again.json()["code_url"] != first.json()["code_url"]
    _, other = merchant.order(
        notify_url=notify_url, out_trade_no=out_trade_no, amount={"total": 200}
    )
    assert other.status_code == 400
    assert other.json() == {"code": "INVALID_REQUEST", "message": "商户订单号重复"}
    assert merchant.control(f"/orders/{out_trade_no}/pay").status_code == 200
    _, paid = merchant.order(notify_url=notify_url, out_trade_no=out_trade_no)
    assert paid.status_code == 400 and paid.json()["code"] == "ORDERPAID"


def test_answers_verify_with_the_public_key_and_with_the_downloaded_certificate(
    merchant: Merchant, keys_folder: Path
) -> None:
    answer = merchant.call("GET", "/v3/certificates")
    [entry] = answer.json()["data"]
    assert entry["serial_no"] == PLATFORM_SERIAL
    assert entry["effective_time"].endswith(SHANGHAI)
    sealed = entry["encrypt_certificate"]
    assert sealed["associated_data"] == "certificate"
    pem = AESGCM(APIV3_KEY.encode()).decrypt(
        sealed["nonce"].encode(), base64.b64decode(sealed["ciphertext"]), b"certificate"
    )
    certificate = x509.load_pem_x509_certificate(pem)
    assert f"{certificate.serial_number:X}" == PLATFORM_SERIAL
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    _verify(answer, public_key)


def test_keys_are_made_once_and_kept(keys_folder: Path) -> None:
    keys = ensure_keys(keys_folder)
    before = keys.merchant_key.read_bytes(), keys.platform_cert.read_bytes()
    assert ensure_keys(keys_folder) == keys
    assert (keys.merchant_key.read_bytes(), keys.platform_cert.read_bytes()) == before
    assert b"BEGIN PRIVATE KEY" in before[0]  # PKCS#8


def test_in_certificate_mode_answers_name_the_platform_certificate(keys_folder: Path) -> None:
    keys = ensure_keys(keys_folder)
    arguments = ["--keys", str(keys_folder), "--mode", "certificate", "--quiet"]
    with stand_in(
        "wechatpay", *arguments, probe="/_control/health", log_folder=keys_folder.parent
    ) as url:
        certificate = x509.load_pem_x509_certificate(keys.platform_cert.read_bytes())
        public_key = certificate.public_key()
        key = serialization.load_pem_private_key(keys.merchant_key.read_bytes(), None)
        assert isinstance(public_key, rsa.RSAPublicKey) and isinstance(key, rsa.RSAPrivateKey)
        merchant = Merchant(url, key, public_key)
        out_trade_no, placed = merchant.order(notify_url="http://127.0.0.1:9/notify")
        assert placed.headers["wechatpay-serial"] == PLATFORM_SERIAL
        closed = merchant.call(
            "POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close", {"mchid": MCHID}
        )
        assert closed.status_code == 204 and closed.content == b""  # verified, empty body


# --- Buyer pages ---------------------------------------------------------------------------


def _form_values(page: str) -> dict[str, str]:
    """The hidden inputs of the page's form."""
    found: dict[str, str] = {}
    for chunk in page.split('<input type="hidden" ')[1:]:
        name = chunk.split('name="', 1)[1].split('"', 1)[0]
        value = chunk.split('value="', 1)[1].split('"', 1)[0]
        found[name] = value.replace("&amp;", "&").replace("&quot;", '"')
    return found


def test_the_h5_page_wants_a_registered_referer_and_goes_back_after_paying(
    merchant: Merchant, receiver: Receiver
) -> None:
    out_trade_no, placed = merchant.order("h5", notify_url=f"{receiver.base}/ok/h5")
    back = "http://127.0.0.1:8000/pay/return?order=7"
    h5_url = placed.json()["h5_url"] + "&" + str(httpx.QueryParams({"redirect_url": back}))
    for referer in ({}, {"Referer": "https://evil.example/shop"}):
        refused = httpx.get(h5_url, headers=referer)
        assert refused.status_code == 200 and "商家参数格式有误，请联系商家解决" in refused.text
        assert "<form" not in refused.text
    page = httpx.get(h5_url, headers={"Referer": "http://127.0.0.1:8000/orders/7"})
    assert "支付" in page.text and "¥1.00" in page.text and "书院 · 月卡" in page.text
    paid = httpx.post(f"{merchant.base}/pay/h5", data={**_form_values(page.text), "answer": "pay"})
    assert paid.status_code == 303 and paid.headers["location"] == back
    assert merchant.query(out_trade_no)["trade_type"] == "MWEB"
    assert merchant.query(out_trade_no)["trade_state"] == "SUCCESS"


def _bridge_query(
    merchant: Merchant, prepay_id: str, *, key: rsa.RSAPrivateKey | None = None
) -> dict[str, str]:
    """What the merchant's page passes to getBrandWCPayRequest, signed with its key."""
    values = {
        "appId": APPID,
        "timeStamp": str(int(time.time())),
        "nonceStr": secrets.token_hex(16),
        "package": f"prepay_id={prepay_id}",
        "signType": "RSA",
    }
    message = "".join(f"{values[k]}\n" for k in ("appId", "timeStamp", "nonceStr", "package"))
    values["paySign"] = _rsa_sign(key or merchant.key, message)
    values["return"] = "http://127.0.0.1:8000/pay/jsapi-done?order=8"
    return values


def test_the_jsapi_bridge_checks_pay_sign_and_answers_err_msg(
    merchant: Merchant, receiver: Receiver
) -> None:
    out_trade_no, placed = merchant.order("jsapi", notify_url=f"{receiver.base}/ok/jsapi")
    prepay_id = placed.json()["prepay_id"]
    assert prepay_id.startswith("wx")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = httpx.get(
        f"{merchant.base}/pay/jsapi", params=_bridge_query(merchant, prepay_id, key=stranger)
    )
    assert "<form" not in forged.text and "err_msg=get_brand_wcpay_request%3Afail" in forged.text
    page = httpx.get(f"{merchant.base}/pay/jsapi", params=_bridge_query(merchant, prepay_id))
    assert "<form" in page.text and "¥1.00" in page.text
    cancelled = httpx.post(
        f"{merchant.base}/pay/jsapi", data={**_form_values(page.text), "answer": "abandon"}
    )
    assert parse_qs(urlsplit(cancelled.headers["location"]).query) == {
        "order": ["8"],
        "err_msg": ["get_brand_wcpay_request:cancel"],
    }
    assert merchant.query(out_trade_no)["trade_state"] == "NOTPAY"
    paid = httpx.post(
        f"{merchant.base}/pay/jsapi", data={**_form_values(page.text), "answer": "pay"}
    )
    assert paid.status_code == 303
    assert "err_msg=get_brand_wcpay_request%3Aok" in paid.headers["location"]
    order = merchant.query(out_trade_no)
    assert order["trade_state"] == "SUCCESS"
    assert order["payer"]["openid"] == "oBuyer0000000000000000000001"


def test_a_declined_scan_is_payerror_and_notifies_nothing(
    merchant: Merchant, receiver: Receiver
) -> None:
    out_trade_no, placed = merchant.order(notify_url=f"{receiver.base}/ok/declined")
    code_url = placed.json()["code_url"]
    page = httpx.get(f"{merchant.base}/scan", params={"code_url": code_url})
    assert "书院 · 月卡" in page.text and "¥1.00" in page.text and "拒绝" in page.text
    declined = httpx.post(f"{merchant.base}/scan", data={"code_url": code_url, "answer": "decline"})
    assert declined.status_code == 200 and "支付失败" in declined.text
    order = merchant.query(out_trade_no)
    assert order["trade_state"] == "PAYERROR"
    assert order["trade_state_desc"] == "支付失败，请重新下单支付"
    time.sleep(0.3)
    assert receiver.at("declined") == []


# --- Notifications -------------------------------------------------------------------------


def test_a_payment_is_notified_signed_and_encrypted(merchant: Merchant, receiver: Receiver) -> None:
    out_trade_no, _ = merchant.order(notify_url=f"{receiver.base}/ok/paid")
    assert merchant.control(f"/orders/{out_trade_no}/pay").status_code == 200
    [(headers, body)] = receiver.wait_for("paid", 1)
    notice = _notification(merchant, headers, body)
    assert notice["event_type"] == "TRANSACTION.SUCCESS"
    assert notice["resource"]["associated_data"] == "transaction"
    transaction = notice["decrypted"]
    assert transaction["out_trade_no"] == out_trade_no
    assert transaction["trade_state"] == "SUCCESS" and transaction["mchid"] == MCHID
    assert transaction["amount"]["payer_total"] == 100
    assert transaction["success_time"].endswith(SHANGHAI)
    assert len(transaction["transaction_id"]) == 28


def test_a_refused_notification_is_sent_again(merchant: Merchant, receiver: Receiver) -> None:
    out_trade_no, _ = merchant.order(notify_url=f"{receiver.base}/fail1/retried")
    merchant.control(f"/orders/{out_trade_no}/pay")
    first, second = receiver.wait_for("retried", 2)
    assert json.loads(first[1])["id"] == json.loads(second[1])["id"]
    _notification(merchant, *second)  # signed afresh, still valid
    attempts = httpx.get(f"{merchant.base}/_control/deliveries").json()
    mine = [
        (a["attempt"], a.get("status_code")) for a in attempts if a["out_trade_no"] == out_trade_no
    ]
    assert mine == [(1, 500), (2, 200)]


def test_lost_notifications_never_come_and_repeated_ones_come_twice(
    merchant: Merchant, receiver: Receiver
) -> None:
    try:
        assert merchant.control("/notifications", {"mode": "lose"}).status_code == 200
        lost, _ = merchant.order(notify_url=f"{receiver.base}/ok/lost")
        merchant.control(f"/orders/{lost}/pay")
        merchant.control("/notifications", {"mode": "repeat"})
        repeated, _ = merchant.order(notify_url=f"{receiver.base}/ok/repeated")
        merchant.control(f"/orders/{repeated}/pay")
        twice = receiver.wait_for("repeated", 2)
    finally:
        merchant.control("/notifications", {"mode": "deliver"})
    assert len({json.loads(body)["id"] for _, body in twice}) == 1
    assert receiver.at("lost") == []
    attempts = httpx.get(f"{merchant.base}/_control/deliveries").json()
    assert [a["error"] for a in attempts if a["out_trade_no"] == lost] == [
        "lost (notifications mode lose)"
    ]
    assert merchant.query(lost)["trade_state"] == "SUCCESS"  # paid all the same


# --- Refunds -----------------------------------------------------------------------------------


def _refund(
    merchant: Merchant, out_trade_no: str, no: str, refund: int, notify_url: str
) -> httpx.Response:
    return merchant.call(
        "POST",
        "/v3/refund/domestic/refunds",
        {
            "out_trade_no": out_trade_no,
            "out_refund_no": no,
            "reason": "退订",
            "notify_url": notify_url,
            "amount": {"refund": refund, "total": 100, "currency": "CNY"},
        },
    )


def test_refunds_are_idempotent_bounded_by_what_was_paid_and_notified(
    merchant: Merchant, receiver: Receiver
) -> None:
    notify_url = f"{receiver.base}/ok/refunds"
    out_trade_no, _ = merchant.order(notify_url=f"{receiver.base}/ok/refunded")
    unpaid = _refund(merchant, out_trade_no, "R-unpaid", 30, notify_url)
    assert unpaid.status_code == 400 and unpaid.json()["code"] == "INVALID_REQUEST"
    merchant.control(f"/orders/{out_trade_no}/pay")
    part = _refund(merchant, out_trade_no, f"R-{out_trade_no}-1", 30, notify_url)
    assert part.status_code == 200 and part.json()["status"] == "PROCESSING"
    again = _refund(merchant, out_trade_no, f"R-{out_trade_no}-1", 30, notify_url)
    assert again.json()["refund_id"] == part.json()["refund_id"]
    too_much = _refund(merchant, out_trade_no, f"R-{out_trade_no}-2", 71, notify_url)
    assert too_much.status_code == 403
    assert too_much.json() == {"code": "NOT_ENOUGH", "message": "可退金额不足"}
    [(headers, body)] = receiver.wait_for("refunds", 1)
    notice = _notification(merchant, headers, body)
    assert notice["event_type"] == "REFUND.SUCCESS"
    refunded = notice["decrypted"]
    assert refunded["refund_status"] == "SUCCESS" and refunded["amount"]["refund"] == 30
    assert refunded["out_refund_no"] == f"R-{out_trade_no}-1"
    queried = merchant.call("GET", f"/v3/refund/domestic/refunds/R-{out_trade_no}-1")
    assert queried.json()["status"] == "SUCCESS"
    assert merchant.query(out_trade_no)["trade_state"] == "REFUND"
    rest = _refund(merchant, out_trade_no, f"R-{out_trade_no}-3", 70, notify_url)
    assert rest.status_code == 200
    over = _refund(merchant, out_trade_no, f"R-{out_trade_no}-4", 1, notify_url)
    assert over.status_code == 403
    missing = merchant.call("GET", "/v3/refund/domestic/refunds/R-none")
    assert missing.status_code == 404 and missing.json()["code"] == "RESOURCE_NOT_EXISTS"


# --- Closing and expiry -----------------------------------------------------------------------


def _close(merchant: Merchant, out_trade_no: str) -> httpx.Response:
    return merchant.call(
        "POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close", {"mchid": MCHID}
    )


def test_closing_ends_an_unpaid_order_and_a_paid_one_stays_paid(
    merchant: Merchant, receiver: Receiver
) -> None:
    notify_url = f"{receiver.base}/ok/closing"
    closing, placed = merchant.order(notify_url=notify_url)
    assert _close(merchant, closing).status_code == 204
    assert merchant.query(closing)["trade_state"] == "CLOSED"
    scanned = httpx.get(f"{merchant.base}/scan", params={"code_url": placed.json()["code_url"]})
    assert "订单已关闭" in scanned.text and "<form" not in scanned.text
    _, again = merchant.order(notify_url=notify_url, out_trade_no=closing)
    assert again.json() == {"code": "ORDER_CLOSED", "message": "订单已关闭"}
    paid, _ = merchant.order(notify_url=notify_url)
    merchant.control(f"/orders/{paid}/pay")
    assert _close(merchant, paid).json()["code"] == "ORDERPAID"
    assert _close(merchant, "N0SUCH2").status_code == 404


def test_a_close_within_the_refusal_window_is_refused(
    merchant: Merchant, receiver: Receiver
) -> None:
    try:
        merchant.control("/close-refusal", {"seconds": 300})
        young, _ = merchant.order(notify_url=f"{receiver.base}/ok/young")
        refused = _close(merchant, young)
    finally:
        merchant.control("/close-refusal", {"seconds": 0})
    assert refused.status_code == 400
    assert refused.json() == {"code": "INVALID_REQUEST", "message": "订单创建后5分钟内不能关单"}
    assert _close(merchant, young).status_code == 204


def test_an_expired_order_cannot_be_paid_except_late_at_the_edge(
    merchant: Merchant, receiver: Receiver
) -> None:
    expired_at = datetime.now(UTC) - timedelta(minutes=1)
    out_trade_no, placed = merchant.order(
        notify_url=f"{receiver.base}/ok/late",
        time_expire=expired_at.astimezone().isoformat(timespec="seconds"),
    )
    assert placed.status_code == 200
    scanned = httpx.get(f"{merchant.base}/scan", params={"code_url": placed.json()["code_url"]})
    assert "订单已失效" in scanned.text and "<form" not in scanned.text
    assert merchant.control(f"/orders/{out_trade_no}/pay").status_code == 409
    assert merchant.query(out_trade_no)["trade_state"] == "NOTPAY"
    assert merchant.control(f"/orders/{out_trade_no}/pay", {"late": True}).status_code == 200
    [(headers, body)] = receiver.wait_for("late", 1)
    success_time = _notification(merchant, headers, body)["decrypted"]["success_time"]
    assert datetime.fromisoformat(success_time) < expired_at
