"""A stand-in for Alipay's open API (电脑网站支付 and 手机网站支付, queries, closing, refunds,
notifications), for development and tests: real HTTP on 127.0.0.1, Alipay's gateway, parameter
names, codes and cashier, real RSA2 signatures both ways.

    python -m devserver.alipay --port 8034 --keys var/alipay

What it imitates:
- One gateway, `/gateway.do`, taking Alipay's common parameters (app_id, method, format=JSON,
  charset=utf-8, sign_type=RSA2, timestamp, version=1.0, biz_content as JSON text, sign) from
  the query string and, for a POST, from a form body too (bodies up to 64 KB, values up to
  8 KB). The request is signed with the app's key over Alipay's string to sign (every
  parameter with a value but sign, sorted, `k=v` joined with `&`, not URL-encoded) and
  checked with app_public_key.pem; the timestamp ("YYYY-MM-DD HH:MM:SS", Beijing time) may be
  30 minutes old or 5 minutes ahead. The method decides what answers, whatever the HTTP verb.
- `alipay.trade.page.pay` and `alipay.trade.wap.pay` (a browser, by GET or by the SDKs'
  auto-submitted form): the cashier page. Alipay makes the trade only now (see Ledger.open);
  a refusal is an HTML page, HTTP 400, with the code (invalid-signature, invalid-app-id,
  invalid-parameter, ACQ.TRADE_HAS_CLOSE, ACQ.TRADE_HAS_SUCCESS, ACQ.CONTEXT_INCONSISTENT).
  time_expire is required (ours: at most 15 days ahead); product_code must match the method.
- The cashier (alipay_pages.py) shows subject and amount and three forms: 确认付款 (paid: the
  notification is sent and the browser goes 302 to return_url with Alipay's signed return
  parameters), 付款失败 (the buyer's payment fails; the trade still waits) and 放弃付款
  (quit_url, for wap, or a page saying so).
- API methods, answered `{"<method>_response": {...}, "sign": "..."}` with Alipay's key over
  the exact text of the inner object, errors included: `alipay.trade.query`,
  `alipay.trade.close`, `alipay.trade.refund` (idempotent by out_request_no, fund_change Y
  then N), `alipay.trade.fastpay.refund.query`; trades named by out_trade_no or trade_no.
  Codes 10000 Success, 40004 Business Failed (ACQ.*), 40002 Invalid Arguments (isv.*); an
  unknown method is answered as `error_response`.
- Expiry: a WAIT_BUYER_PAY trade past its time_expire is TRADE_CLOSED, noticed when it is
  touched and by a sweep each second; like a close by the merchant, it is notified.
- Notifications (alipay_notices.py): trade_status_sync, form-encoded, signed with Alipay's key
  leaving out sign and sign_type, for payments (TRADE_SUCCESS), closes (TRADE_CLOSED) and
  refunds (TRADE_SUCCESS, or TRADE_CLOSED once refunded in full); taken when the answer is
  `success`, else sent again after 1, 2, 4, 8 and 16 s (Alipay's own retries are minutes and
  hours apart), with the same notify_id.

Control endpoints, not Alipay's (alipay_control.py; unsigned JSON, for tests and people):
- `GET /_control/health`: 200 when up.
- `POST /_control/notifications` `{"mode": "deliver" | "lose" | "repeat"}`.
- `GET /_control/deliveries`: the attempts, oldest first (the newest 1000): `{notify_id,
  trade_status, out_trade_no, attempt, status_code, answer | error}` (a lost one: attempt 0).
- `POST /_control/trades/{no}/pay` (optional `{"late": true}`: pay after time_expire or after a
  close, recorded a second before the trade closed, notified now), `.../decline`,
  `GET /_control/trades/{no}` (the trade, amounts in fen and yuan, its refunds).

Not imitated: HTTPS, the certificate mode (公钥证书), RSA (SHA1) signatures, AES-encrypted
biz_content, every other API (precreate, app pay, settlement, bills), TRADE_FINISHED (the end of
the refund period), buyers other than one, discounts (receipt and buyer amounts are the total),
Alipay's login and QR pages, and its rate limits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devserver import alipay_control, alipay_keys, alipay_pages
from devserver.alipay_keys import AlipayKeys, ensure_keys
from devserver.alipay_ledger import (
    AlipayError,
    Ledger,
    Trade,
    TradeRequest,
    alipay_time,
    invalid_arguments,
    parse_alipay_time,
    parse_yuan,
    yuan,
)
from devserver.alipay_notices import Notifier, sign, string_to_sign, verifies

BODY_LIMIT = 64 * 1024
QUERY_LIMIT = 16 * 1024
FIELD_LIMIT = 32  # parameters in one request
VALUE_LIMIT = 8 * 1024
CLOCK_BEHIND = timedelta(minutes=30)  # how old a request's timestamp may be
CLOCK_AHEAD = timedelta(minutes=5)
LONGEST_TRADE = timedelta(days=15)
OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_]{1,64}")
TRADE_NO = re.compile(r"[0-9]{16,64}")
OUT_REQUEST_NO = re.compile(r"[!-~]{1,64}")  # visible ASCII
PAY_METHODS = {
    "alipay.trade.page.pay": "FAST_INSTANT_TRADE_PAY",
    "alipay.trade.wap.pay": "QUICK_WAP_WAY",
}

Api = Callable[[Ledger, "Biz", datetime], dict[str, Any]]


def _invalid(sub_msg: str) -> AlipayError:
    return invalid_arguments("isv.invalid-parameter", sub_msg)


class Biz:
    """Typed reads of biz_content's fields, refusing with isv.invalid-parameter."""

    def __init__(self, values: dict[str, str]) -> None:
        text = values.get("biz_content", "")
        try:
            data = json.loads(text) if text else None
        except (ValueError, RecursionError):  # RecursionError: nested thousands deep
            data = None
        if not isinstance(data, dict):
            raise _invalid("参数biz_content不是合法的JSON对象")
        self.data = data

    def text(
        self, name: str, *, most: int, pattern: re.Pattern[str] | None = None, need: bool = True
    ) -> str:
        value = self.data.get(name)
        if value is None or value == "":
            if need:
                raise _invalid(f"缺少参数{name}")
            return ""
        if not isinstance(value, str) or len(value) > most:
            raise _invalid(f"参数{name}格式错误")
        if pattern is not None and not pattern.fullmatch(value):
            raise _invalid(f"参数{name}格式错误")
        return value

    def amount(self, name: str) -> int:
        fen = parse_yuan(self.text(name, most=12))
        if fen is None:
            raise _invalid(f"参数{name}格式错误，须为0.01至100000000.00的两位小数")
        return fen

    def trade(self, ledger: Ledger, now: datetime) -> Trade:
        """The trade named by out_trade_no or trade_no (one is needed)."""
        out_trade_no = self.text("out_trade_no", most=64, pattern=OUT_TRADE_NO, need=False)
        trade_no = self.text("trade_no", most=64, pattern=TRADE_NO, need=False)
        if not (out_trade_no or trade_no):
            raise _invalid("out_trade_no和trade_no不能同时为空")
        return ledger.trade(out_trade_no, now, trade_no=trade_no)


def _web_url(text: str, most: int) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and len(text) <= most


# --- Reading and checking a gateway request ---------------------------------------------------


async def _parameters(request: Request) -> dict[str, str]:
    """The request's parameters: the query string's and, for a POST, the form body's."""
    query = request.scope["query_string"]
    if len(query) > QUERY_LIMIT:
        raise _invalid("请求参数过长")
    texts = [query]
    if request.method == "POST":
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > BODY_LIMIT:
                raise _invalid("请求体过大")
        content_type = request.headers.get("content-type", "")
        if body and not content_type.startswith("application/x-www-form-urlencoded"):
            raise _invalid("请求体须为application/x-www-form-urlencoded")
        texts.append(body)
    values: dict[str, str] = {}
    try:
        for text in texts:
            pairs = parse_qsl(
                text.decode(),
                keep_blank_values=True,
                strict_parsing=False,
                errors="strict",
                max_num_fields=FIELD_LIMIT,
            )
            for name, value in pairs:
                if len(name) > 64 or len(value) > VALUE_LIMIT or len(values) >= FIELD_LIMIT:
                    raise _invalid("请求参数过长")
                if values.setdefault(name, value) != value:
                    raise _invalid(f"参数{name}重复")
    except ValueError:  # not UTF-8, or too many fields
        raise _invalid("请求参数格式错误") from None
    return values


def _check_common(request: Request, values: dict[str, str], now: datetime) -> None:
    """Alipay's common parameters: the app, the signature, charset, format, the timestamp."""
    ledger: Ledger = request.app.state.ledger
    app_public_key: rsa.RSAPublicKey = request.app.state.app_public_key
    if not values.get("app_id"):
        raise invalid_arguments("isv.missing-app-id", "缺少AppID参数")
    if values["app_id"] != ledger.app_id:
        raise invalid_arguments("isv.invalid-app-id", "无效的AppID参数")
    if not values.get("sign"):
        raise invalid_arguments("isv.missing-signature", "缺少签名参数")
    if not values.get("sign_type"):
        raise invalid_arguments("isv.missing-signature-type", "缺少签名类型参数")
    if values["sign_type"] != "RSA2":
        raise invalid_arguments("isv.invalid-signature-type", "无效的签名类型")
    if values.get("charset", "utf-8").lower() != "utf-8":
        raise invalid_arguments("isv.invalid-charset", "字符集错误")
    if values.get("format", "JSON").upper() != "JSON":
        raise invalid_arguments("isv.invalid-format", "无效的数据格式")
    if values.get("version", "1.0") != "1.0":
        raise _invalid("参数version须为1.0")
    message = string_to_sign(values)
    if not verifies(app_public_key, message, values["sign"]):
        raise invalid_arguments(
            "isv.invalid-signature",
            "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，"
            f"网关生成的验签字符串为：{message[:2048]}",
        )
    if not values.get("timestamp"):
        raise invalid_arguments("isv.missing-timestamp", "缺少时间戳参数")
    moment = parse_alipay_time(values["timestamp"])
    if moment is None or not now - CLOCK_BEHIND <= moment <= now + CLOCK_AHEAD:
        raise invalid_arguments("isv.invalid-timestamp", "非法的时间戳参数")


# --- The cashier: page pay and wap pay ----------------------------------------------------------


def _trade_request(method: str, values: dict[str, str], now: datetime) -> TradeRequest:
    biz = Biz(values)
    if biz.text("product_code", most=64) != PAY_METHODS[method]:
        raise _invalid(f"参数product_code须为{PAY_METHODS[method]}")
    time_expire = parse_alipay_time(biz.text("time_expire", most=32))
    if time_expire is None or time_expire > now + LONGEST_TRADE:
        raise _invalid("参数time_expire格式错误，须为yyyy-MM-dd HH:mm:ss，15天以内")
    urls = {"notify_url": values.get("notify_url", ""), "return_url": values.get("return_url", "")}
    quit_url = biz.text("quit_url", most=400, need=False) if method.endswith("wap.pay") else ""
    for name, url in (*urls.items(), ("quit_url", quit_url)):
        if url and not _web_url(url, 400 if name == "quit_url" else 256):
            raise _invalid(f"参数{name}格式错误")
    # The return appends Alipay's parameters to return_url's own: the names must not clash.
    own = {
        name for name, _ in parse_qsl(urlsplit(urls["return_url"]).query, keep_blank_values=True)
    }
    if own & alipay_pages.RETURN_PARAMETERS:
        raise _invalid("参数return_url的查询参数与支付宝的返回参数重名")
    return TradeRequest(
        method=method,
        out_trade_no=biz.text("out_trade_no", most=64, pattern=OUT_TRADE_NO),
        total=biz.amount("total_amount"),
        subject=biz.text("subject", most=256),
        time_expire=time_expire,
        quit_url=quit_url,
        **urls,
    )


def _open_cashier(request: Request, method: str, values: dict[str, str]) -> Response:
    ledger: Ledger = request.app.state.ledger
    now = datetime.now(UTC)
    try:
        _check_common(request, values, now)
        cashier = ledger.open(_trade_request(method, values, now), now)
    except AlipayError as refusal:
        return alipay_pages.refusal_page(refusal)
    return alipay_pages.cashier_page(ledger.trades[cashier.out_trade_no], cashier)


# --- The API methods ---------------------------------------------------------------------------


def query_trade(ledger: Ledger, biz: Biz, now: datetime) -> dict[str, Any]:
    return ledger.query_answer(biz.trade(ledger, now))


def close_trade(ledger: Ledger, biz: Biz, now: datetime) -> dict[str, Any]:
    trade = biz.trade(ledger, now)
    ledger.close(trade, now)
    return {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}


def refund_trade(ledger: Ledger, biz: Biz, now: datetime) -> dict[str, Any]:
    out_request_no = biz.text("out_request_no", most=64, pattern=OUT_REQUEST_NO)
    amount = biz.amount("refund_amount")
    reason = biz.text("refund_reason", most=256, need=False)
    trade = biz.trade(ledger, now)
    refund, moved = ledger.refund(
        trade, out_request_no=out_request_no, amount=amount, reason=reason, now=now
    )
    return {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_logon_id": ledger.query_answer(trade)["buyer_logon_id"],
        "buyer_user_id": ledger.query_answer(trade)["buyer_user_id"],
        "fund_change": "Y" if moved else "N",
        "refund_fee": yuan(trade.refunded),
        "gmt_refund_pay": alipay_time(refund.gmt_refund),
    }


def query_refund(ledger: Ledger, biz: Biz, now: datetime) -> dict[str, Any]:
    out_request_no = biz.text("out_request_no", most=64, pattern=OUT_REQUEST_NO)
    trade = biz.trade(ledger, now)
    answer: dict[str, Any] = {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "out_request_no": out_request_no,
    }
    refund = trade.refunds.get(out_request_no)
    if refund is not None:  # an unknown refund is a success without an amount, as Alipay's
        answer.update(
            total_amount=yuan(trade.total),
            refund_amount=yuan(refund.amount),
            refund_status="REFUND_SUCCESS",
            gmt_refund_pay=alipay_time(refund.gmt_refund),
        )
        if refund.reason:
            answer["refund_reason"] = refund.reason
    return answer


API_METHODS: dict[str, Api] = {
    "alipay.trade.query": query_trade,
    "alipay.trade.close": close_trade,
    "alipay.trade.refund": refund_trade,
    "alipay.trade.fastpay.refund.query": query_refund,
}


def _signed_answer(request: Request, method: str, answer: dict[str, Any]) -> Response:
    """`{"<method>_response": <answer>, "sign": ...}`, signed over the answer's exact text."""
    key: rsa.RSAPrivateKey = request.app.state.alipay_private_key
    name = f"{method.replace('.', '_')}_response" if method in API_METHODS else "error_response"
    text = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
    body = f'{{"{name}":{text},"sign":"{sign(key, text)}"}}'
    return Response(body.encode(), 200, media_type="application/json;charset=utf-8")


def _call_api(request: Request, method: str, values: dict[str, str]) -> Response:
    ledger: Ledger = request.app.state.ledger
    now = datetime.now(UTC)
    try:
        if not method:
            raise invalid_arguments("isv.missing-method", "缺少方法名参数")
        if method not in API_METHODS:
            raise invalid_arguments("isv.invalid-method", "不存在的方法名")
        _check_common(request, values, now)
        answer = {
            "code": "10000",
            "msg": "Success",
            **API_METHODS[method](ledger, Biz(values), now),
        }
    except AlipayError as refusal:
        answer = refusal.answer()
    return _signed_answer(request, method, answer)


async def gateway(request: Request) -> Response:
    try:
        values = await _parameters(request)
    except AlipayError as refusal:
        if request.method == "GET":  # a browser, most likely
            return alipay_pages.refusal_page(refusal)
        return _signed_answer(request, "", refusal.answer())
    method = values.get("method", "")
    if method in PAY_METHODS:
        return _open_cashier(request, method, values)
    return _call_api(request, method, values)


# --- The app -----------------------------------------------------------------------------------


def _load_keys(keys: AlipayKeys) -> tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]:
    alipay_key = serialization.load_pem_private_key(keys.alipay_private_key.read_bytes(), None)
    app_key = serialization.load_pem_public_key(keys.app_public_key.read_bytes())
    if not isinstance(alipay_key, rsa.RSAPrivateKey) or not isinstance(app_key, rsa.RSAPublicKey):
        raise SystemExit(f"{keys.alipay_private_key.parent}: not RSA keys")
    return alipay_key, app_key


def create_app(
    keys: AlipayKeys,
    *,
    app_id: str = alipay_keys.APP_ID,
    seller_id: str = alipay_keys.SELLER_ID,
    sweep_seconds: float = 1.0,
) -> Starlette:
    alipay_key, app_key = _load_keys(keys)
    notifier = Notifier(key=alipay_key)
    ledger = Ledger(app_id=app_id, seller_id=seller_id, notify=notifier.send)

    async def sweep() -> None:
        while True:
            await asyncio.sleep(sweep_seconds)
            ledger.expire_due(datetime.now(UTC))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweeping = asyncio.get_running_loop().create_task(sweep())
        yield
        sweeping.cancel()
        await notifier.close()

    app = Starlette(
        routes=[
            Route("/gateway.do", gateway, methods=["GET", "POST"]),
            *alipay_pages.ROUTES,
            *alipay_control.ROUTES,
        ],
        lifespan=lifespan,
    )
    app.state.ledger = ledger
    app.state.notifier = notifier
    app.state.alipay_private_key = alipay_key
    app.state.app_public_key = app_key
    return app


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="devserver.alipay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8034, help="0: any free port")
    parser.add_argument("--keys", type=Path, required=True, help="folder of ensure_keys")
    parser.add_argument("--app-id", default=alipay_keys.APP_ID)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    app = create_app(ensure_keys(args.keys), app_id=args.app_id)
    log_level = "warning" if args.quiet else "info"
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level=log_level)


if __name__ == "__main__":
    main()
