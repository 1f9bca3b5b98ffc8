"""A stand-in for WeChat Pay API v3 (the merchant's side: Native, H5 and JSAPI orders, queries,
closing, refunds, notifications), for development and tests: real HTTP, WeChat's paths, JSON
and error codes, real RSA signatures both ways and real AES-256-GCM encryption, on 127.0.0.1.

    python -m devserver.wechatpay --port 8033 --keys var/wechatpay

What it imitates:
- Request signing: every /v3 call must carry `Authorization: WECHATPAY2-SHA256-RSA2048
  mchid=...,nonce_str=...,signature=...,timestamp=...,serial_no=...`, signed with the merchant
  key over "METHOD\\npath?query\\ntimestamp\\nnonce\\nbody\\n" (the path exactly as sent,
  percent-encoding included), checked with apiclient_cert.pem (its serial must be named),
  the timestamp within 300 s: else 401 SIGN_ERROR. A User-Agent is required, and
  Content-Type: application/json with a body (else 400 PARAM_ERROR); bodies up to 64 KB.
- Answer signing: every /v3 answer, errors and 204s included, carries Wechatpay-Timestamp,
  -Nonce, -Signature (platform key over "timestamp\\nnonce\\nbody\\n"), -Serial,
  -Signature-Type and Request-ID. The serial is PUBLIC_KEY_ID with `--mode public_key` (the
  merchant checks with pub_key.pem) or the platform certificate's with `--mode certificate`
  (the merchant fetches it from `GET /v3/certificates`, encrypted with the APIv3 key).
- `POST /v3/pay/transactions/native` -> code_url (weixin://wxpay/bizpayurl?pr=...),
  `/h5` -> h5_url (this server's `/pay/h5`, valid 300 s), `/jsapi` -> prepay_id. Fields
  and bounds checked; the appid must be bound to the mchid (`--appid`); notify_url an http(s)
  URL without a query; time_expire RFC 3339 with an offset (default: two hours). Placing the
  same out_trade_no again: see Ledger.place (same amount, description, attach, appid and
  type: a fresh handle; else 商户订单号重复; ORDERPAID; ORDER_CLOSED).
- `GET /v3/pay/transactions/out-trade-no/{no}?mchid=`, `POST .../{no}/close` (204; ORDERPAID;
  refused within `--refuse-close-within` seconds of the order's creation),
  `POST /v3/refund/domestic/refunds` (PROCESSING, SUCCESS 0.2 s later; idempotent by
  out_refund_no; NOT_ENOUGH), `GET /v3/refund/domestic/refunds/{out_refund_no}`.
- Notifications: TRANSACTION.SUCCESS when an order is paid, REFUND.SUCCESS when a refund
  succeeds, POSTed to the notify_url signed and encrypted; any 2xx takes it, anything else is
  retried 5 more times after 1, 2, 4, 8 and 16 s (WeChat's own retries are minutes apart).
- The buyer (wechatpay_pages.py): `GET /scan?code_url=...` (the phone that scanned a Native
  code), `GET /pay/h5?...&redirect_url=...` (WeChat's H5 cashier: checks the Referer against
  `--h5-domain`), `GET /pay/jsapi?appId&timeStamp&nonceStr&package&signType&paySign&return=`
  (the JSAPI payment sheet: checks paySign, answers `err_msg` on `return`). Each has 支付,
  拒绝/失败 (PAYERROR) and 放弃 (nothing changes). An order is payable while NOTPAY and
  before its time_expire.

Control endpoints, not WeChat's (wechatpay_control.py; unsigned JSON, for tests and people):
- `GET /_control/health`: 200 when up.
- `POST /_control/notifications` `{"mode": "deliver" | "lose" | "repeat"}`: lose sends no
  notification from now on, repeat sends each twice with the same id.
- `GET /_control/deliveries`: the attempts, oldest first (the newest 1000): `{id, event_type,
  out_trade_no, attempt, status_code | error}` (a lost one: attempt 0).
- `POST /_control/orders/{no}/pay` (optional `{"late": true}`: pay after time_expire, the
  success recorded a second before it, its notification sent now), `.../decline`,
  `GET /_control/orders/{no}` (the order, its prepay handles and its refunds).
- `POST /_control/close-refusal` `{"seconds": N}`: as --refuse-close-within.

Not imitated: HTTPS, the rest of API v3 (combined orders, profit sharing, bills, Mini
Programs and apps), sub-merchants, refunds by transaction_id, REFUND.ABNORMAL and
REFUND.CLOSED, WeChat's minimum order lifetime and its rate limits, the platform
certificate's rotation, a real WeChat client (the pages play it).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devserver import wechatpay_control, wechatpay_keys, wechatpay_pages
from devserver.wechatpay_keys import WechatPayKeys, ensure_keys
from devserver.wechatpay_ledger import (
    ApiError,
    Ledger,
    OrderRequest,
    RefundRequest,
    wechat_time,
)
from devserver.wechatpay_notices import Notifier, Platform, encrypt, verifies

BODY_LIMIT = 64 * 1024
SCHEME = "WECHATPAY2-SHA256-RSA2048"
FIELD = re.compile(r'(\w+)="([^"]*)"')
OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
MOST_FEN = 100_000_000  # a million yuan: above any one payment this project takes
TRADE_TYPES = {"native": "NATIVE", "h5": "MWEB", "jsapi": "JSAPI"}

Body = dict[str, Any]
Handler = Callable[[Request, Body], Awaitable[tuple[int, Body | None]]]


def _param_error(message: str) -> ApiError:
    return ApiError(400, "PARAM_ERROR", message)


def _sign_error() -> ApiError:
    return ApiError(401, "SIGN_ERROR", "签名错误")


class Fields:
    """Typed reads of a JSON object's fields, refusing with WeChat's PARAM_ERROR."""

    def __init__(self, data: Any, where: str = "") -> None:
        if not isinstance(data, dict):
            raise _param_error(f"{where or '请求体'}格式错误")
        self.data, self.where = data, where

    def text(
        self, name: str, *, most: int, pattern: re.Pattern[str] | None = None, need: bool = True
    ) -> str:
        value = self.data.get(name)
        if value is None and not need:
            return ""
        if not isinstance(value, str) or not value:
            raise _param_error(f"缺少参数{self.where}{name}")
        if len(value) > most or (pattern and not pattern.fullmatch(value)):
            raise _param_error(f"参数{self.where}{name}格式错误")
        return value

    def whole(self, name: str, *, least: int, most: int) -> int:
        value = self.data.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise _param_error(f"缺少参数{self.where}{name}")
        if not least <= value <= most:
            raise _param_error(f"参数{self.where}{name}超出范围")
        return value

    def inner(self, name: str) -> Fields:
        if name not in self.data:
            raise _param_error(f"缺少参数{self.where}{name}")
        return Fields(self.data[name], f"{self.where}{name}.")


def _web_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query


async def _bounded_body(request: Request) -> bytes:
    if int(request.headers.get("content-length") or 0) > BODY_LIMIT:
        raise _param_error("请求体过大")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_LIMIT:
            raise _param_error("请求体过大")
    return body


def _check_signature(request: Request, body: bytes) -> None:
    """The merchant's signature over the request as sent, its serial, its timestamp."""
    header = request.headers.get("authorization", "")
    if not header.startswith(f"{SCHEME} "):
        raise _sign_error()
    fields = dict(FIELD.findall(header[len(SCHEME) + 1 :]))
    ledger: Ledger = request.app.state.ledger
    timestamp = fields.get("timestamp", "")
    if (
        fields.get("mchid") != ledger.mchid
        or fields.get("serial_no", "").upper() != request.app.state.merchant_serial
        or not (timestamp.isdigit() and len(timestamp) <= 12)
        or abs(time.time() - int(timestamp)) > 300
        or not 0 < len(fields.get("nonce_str", "")) <= 64
    ):
        raise _sign_error()
    target = request.scope["raw_path"].decode("latin-1")
    if request.scope["query_string"]:
        target += "?" + request.scope["query_string"].decode("latin-1")
    message = (
        f"{request.method}\n{target}\n{timestamp}\n{fields['nonce_str']}\n"
        f"{body.decode('utf-8', 'replace')}\n"
    )
    if not verifies(request.app.state.merchant_public_key, message, fields.get("signature", "")):
        raise _sign_error()


def merchant_api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A /v3 endpoint: the body bounded, the merchant's signature checked, the JSON read,
    and the answer (whatever it is) signed with the platform key."""

    async def endpoint(request: Request) -> Response:
        try:
            body = await _bounded_body(request)
            _check_signature(request, body)
            if not request.headers.get("user-agent"):
                raise _param_error("请求头缺少User-Agent")
            data: Body = {}
            if body:
                if not request.headers.get("content-type", "").startswith("application/json"):
                    raise _param_error("Content-Type须为application/json")
                try:
                    data = json.loads(body)
                except ValueError:
                    raise _param_error("请求体不是合法的JSON") from None
            status, answer = await handler(request, data)
        except ApiError as refusal:
            status, answer = refusal.status, {"code": refusal.code, "message": refusal.message}
        content = b""
        if answer is not None:
            content = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
        platform: Platform = request.app.state.platform
        headers = platform.headers(content)
        if status == 204:
            return Response(status_code=204, headers=headers)
        return Response(content, status, headers, media_type="application/json")

    return endpoint


def _time_expire(fields: Fields, now: datetime) -> datetime:
    text = fields.text("time_expire", most=64, need=False)
    if not text:
        return now + timedelta(hours=2)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _param_error("参数time_expire格式错误") from None
    if moment.tzinfo is None:
        raise _param_error("参数time_expire格式错误")
    return moment.astimezone(UTC)


def place_order(kind: str) -> Handler:
    async def handler(request: Request, data: Body) -> tuple[int, Body | None]:
        ledger: Ledger = request.app.state.ledger
        now = datetime.now(UTC)
        fields = Fields(data)
        ledger.check_merchant(fields.text("mchid", most=32), fields.text("appid", most=32))
        amount = fields.inner("amount")
        if amount.data.get("currency", "CNY") != "CNY":
            raise _param_error("参数amount.currency格式错误")
        notify_url = fields.text("notify_url", most=255)
        if not _web_url(notify_url):
            raise _param_error("参数notify_url格式错误")
        payer_openid = client_ip = ""
        if kind == "jsapi":
            payer_openid = fields.inner("payer").text("openid", most=128)
        if kind == "h5":
            scene = fields.inner("scene_info")
            client_ip = scene.text("payer_client_ip", most=45)
            try:
                ipaddress.ip_address(client_ip)
            except ValueError:
                raise _param_error("参数scene_info.payer_client_ip格式错误") from None
            if scene.inner("h5_info").text("type", most=16) != "Wap":
                raise _param_error("参数scene_info.h5_info.type格式错误")
        asked = OrderRequest(
            trade_type=TRADE_TYPES[kind],
            appid=data["appid"],
            description=fields.text("description", most=127),
            out_trade_no=fields.text("out_trade_no", most=32, pattern=OUT_TRADE_NO),
            time_expire=_time_expire(fields, now),
            attach=fields.text("attach", most=128, need=False),
            notify_url=notify_url,
            total=amount.whole("total", least=1, most=MOST_FEN),
            payer_openid=payer_openid,
            payer_client_ip=client_ip,
        )
        prepay = ledger.place(asked, now)
        if kind == "native":
            return 200, {"code_url": f"weixin://wxpay/bizpayurl?pr={prepay.token}"}
        if kind == "h5":
            query = urlencode({"prepay_id": prepay.prepay_id, "token": prepay.token})
            return 200, {"h5_url": f"{str(request.base_url).rstrip('/')}/pay/h5?{query}"}
        return 200, {"prepay_id": prepay.prepay_id}

    return handler


async def query_order(request: Request, data: Body) -> tuple[int, Body | None]:
    ledger: Ledger = request.app.state.ledger
    mchid = request.query_params.get("mchid")
    if not mchid:
        raise _param_error("缺少参数mchid")
    ledger.check_merchant(mchid)
    return 200, ledger.transaction(ledger.order(request.path_params["out_trade_no"]))


async def close_order(request: Request, data: Body) -> tuple[int, Body | None]:
    ledger: Ledger = request.app.state.ledger
    ledger.check_merchant(Fields(data).text("mchid", most=32))
    ledger.close(request.path_params["out_trade_no"], datetime.now(UTC))
    return 204, None


async def create_refund(request: Request, data: Body) -> tuple[int, Body | None]:
    ledger: Ledger = request.app.state.ledger
    fields = Fields(data)
    amount = fields.inner("amount")
    if amount.data.get("currency", "CNY") != "CNY":
        raise _param_error("参数amount.currency格式错误")
    notify_url = fields.text("notify_url", most=255, need=False)
    if notify_url and not _web_url(notify_url):
        raise _param_error("参数notify_url格式错误")
    asked = RefundRequest(
        out_trade_no=fields.text("out_trade_no", most=32, pattern=OUT_TRADE_NO),
        out_refund_no=fields.text("out_refund_no", most=64, pattern=OUT_REFUND_NO),
        reason=fields.text("reason", most=80, need=False),
        notify_url=notify_url,
        refund=amount.whole("refund", least=1, most=MOST_FEN),
        total=amount.whole("total", least=1, most=MOST_FEN),
    )
    return 200, ledger.refund_record(ledger.refund(asked, datetime.now(UTC)))


async def query_refund(request: Request, data: Body) -> tuple[int, Body | None]:
    ledger: Ledger = request.app.state.ledger
    refund = ledger.refunds.get(request.path_params["out_refund_no"])
    if refund is None:
        raise ApiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return 200, ledger.refund_record(refund)


async def certificates(request: Request, data: Body) -> tuple[int, Body | None]:
    pem: bytes = request.app.state.platform_cert_pem
    certificate = x509.load_pem_x509_certificate(pem)
    return 200, {
        "data": [
            {
                "serial_no": f"{certificate.serial_number:X}",
                "effective_time": wechat_time(certificate.not_valid_before_utc),
                "expire_time": wechat_time(certificate.not_valid_after_utc),
                "encrypt_certificate": encrypt(request.app.state.apiv3_key, pem, "certificate"),
            }
        ]
    }


async def unknown(request: Request, data: Body) -> tuple[int, Body | None]:
    raise ApiError(404, "NOT_FOUND", "请求的资源不存在")


def create_app(
    keys: WechatPayKeys,
    *,
    mchid: str = wechatpay_keys.MCHID,
    appids: frozenset[str] = frozenset({"wx0fficia1000001"}),
    apiv3_key: str = wechatpay_keys.APIV3_KEY,
    mode: str = "public_key",
    h5_domains: frozenset[str] = frozenset({"127.0.0.1", "localhost", "testserver"}),
    refuse_close_within: float = 0,
) -> Starlette:
    platform_key = serialization.load_pem_private_key(keys.platform_key.read_bytes(), None)
    merchant_cert = x509.load_pem_x509_certificate(keys.merchant_cert.read_bytes())
    platform_cert_pem = keys.platform_cert.read_bytes()
    if not isinstance(platform_key, rsa.RSAPrivateKey):
        raise SystemExit("platform_key.pem is not an RSA key")
    serial = wechatpay_keys.PUBLIC_KEY_ID
    if mode == "certificate":
        serial = f"{x509.load_pem_x509_certificate(platform_cert_pem).serial_number:X}"
    platform = Platform(key=platform_key, serial=serial)
    notifier = Notifier(platform=platform, apiv3_key=apiv3_key)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await notifier.close()

    transactions = "/v3/pay/transactions"
    app = Starlette(
        routes=[
            *(
                Route(f"{transactions}/{kind}", merchant_api(place_order(kind)), methods=["POST"])
                for kind in TRADE_TYPES
            ),
            Route(f"{transactions}/out-trade-no/{{out_trade_no}}", merchant_api(query_order)),
            Route(
                f"{transactions}/out-trade-no/{{out_trade_no}}/close",
                merchant_api(close_order),
                methods=["POST"],
            ),
            Route("/v3/refund/domestic/refunds", merchant_api(create_refund), methods=["POST"]),
            Route("/v3/refund/domestic/refunds/{out_refund_no}", merchant_api(query_refund)),
            Route("/v3/certificates", merchant_api(certificates)),
            Route("/v3/{rest:path}", merchant_api(unknown), methods=["GET", "POST", "PUT"]),
            *wechatpay_pages.ROUTES,
            *wechatpay_control.ROUTES,
        ],
        lifespan=lifespan,
    )
    app.state.ledger = Ledger(
        mchid=mchid,
        appids=appids,
        notify=notifier.send,
        refuse_close_within=refuse_close_within,
    )
    app.state.notifier = notifier
    app.state.platform = platform
    app.state.platform_cert_pem = platform_cert_pem
    app.state.apiv3_key = apiv3_key
    app.state.merchant_public_key = merchant_cert.public_key()
    app.state.merchant_serial = f"{merchant_cert.serial_number:X}"
    app.state.h5_domains = h5_domains
    return app


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="devserver.wechatpay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8033)
    parser.add_argument("--keys", type=Path, required=True, help="folder of ensure_keys")
    parser.add_argument("--mchid", default=wechatpay_keys.MCHID)
    parser.add_argument("--appid", action="append", default=[], help="bound to the mchid")
    parser.add_argument("--apiv3-key", default=wechatpay_keys.APIV3_KEY)
    parser.add_argument("--mode", choices=("public_key", "certificate"), default="public_key")
    parser.add_argument("--h5-domain", action="append", default=[])
    parser.add_argument("--refuse-close-within", type=float, default=0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    if len(args.apiv3_key.encode()) != 32:
        parser.error("--apiv3-key must be 32 bytes")
    app = create_app(
        ensure_keys(args.keys),
        mchid=args.mchid,
        appids=frozenset(args.appid or ("wx0fficia1000001",)),
        apiv3_key=args.apiv3_key,
        mode=args.mode,
        h5_domains=frozenset(args.h5_domain or ("127.0.0.1", "localhost", "testserver")),
        refuse_close_within=args.refuse_close_within,
    )
    log_level = "warning" if args.quiet else "info"
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level=log_level)


if __name__ == "__main__":
    main()
