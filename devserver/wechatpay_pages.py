"""The buyer's side of the WeChat Pay stand-in: the phone that scanned a Native code, WeChat's H5
cashier page, and the JSAPI bridge (getBrandWCPayRequest), each with 支付 / 拒绝 / 放弃 buttons
that a person, or a test, presses as the buyer. Plain HTML forms, no scripts, no assets."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from devserver.wechatpay_ledger import H5_SECONDS, ApiError, Ledger, Order
from devserver.wechatpay_notices import verifies

MERCHANT_PARAMETERS_WRONG = "商家参数格式有误，请联系商家解决"
FORM_LIMIT = 64 * 1024
PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem;
text-align:center}} button{{font-size:1.1rem;padding:.7rem 1.4rem;margin:.4rem;
border-radius:.4rem;border:1px solid #555;cursor:pointer}} .go{{background:#07c160;color:#fff;
border-color:#07c160}} .note{{color:#555;font-size:.85rem}} .amount{{font-size:2rem}}</style>
</head><body>
<p class="note">本地模拟 · a local imitation of WeChat Pay for development and tests</p>
<h1>{title}</h1>{body}</body></html>"""
OUTCOMES = {"pay": "支付成功", "decline": "支付失败", "abandon": "已放弃支付"}
JSAPI_ANSWERS = {"pay": "ok", "decline": "fail", "abandon": "cancel"}
JSAPI_FIELDS = ("appId", "timeStamp", "nonceStr", "package", "signType", "paySign", "return")


def _page(title: str, body: str = "", *, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status)


def _hidden(values: dict[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in values.items()
    )


def _yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def _buttons(action: str, values: dict[str, str], order: Order) -> str:
    return (
        f"<p>{html.escape(order.asked.description)}</p>"
        f'<p class="amount">{_yuan(order.asked.total)}</p>'
        f'<form method="post" action="{action}">{_hidden(values)}'
        '<button class="go" name="answer" value="pay">支付</button>'
        '<button name="answer" value="decline">拒绝/失败</button>'
        '<button name="answer" value="abandon">放弃</button></form>'
    )


def _web_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and len(text) <= 2048


def _with_query(url: str, **values: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(values)}" if parts.query else urlencode(values)
    return urlunsplit(parts._replace(query=query))


async def _form(request: Request) -> dict[str, str]:
    """The posted form's fields; {} for anything too big or malformed (the page refuses)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            return {}
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), max_num_fields=16)
    except ValueError:
        return {}
    return {k: v[:4096] for k, v in pairs}


def _answer(ledger: Ledger, order: Order, answer: str) -> str | None:
    """Play the buyer's answer; the reason it could not be played, or None."""
    now = datetime.now(UTC)
    try:
        if answer == "pay":
            ledger.pay(order, now)
        elif answer == "decline":
            ledger.decline(order, now)
        elif answer != "abandon":
            return MERCHANT_PARAMETERS_WRONG
    except ApiError as refusal:
        return refusal.message
    return None


# --- Native: the phone that scanned the code --------------------------------------------------


def _scanned(ledger: Ledger, code_url: str) -> Order | None:
    token = code_url.removeprefix("weixin://wxpay/bizpayurl?pr=")
    prepay = ledger.prepay(token=token, now=datetime.now(UTC))
    if token == code_url or prepay is None:
        return None
    order = ledger.orders.get(prepay.out_trade_no)
    return order if order and order.asked.trade_type == "NATIVE" else None


async def scan(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    code_url = request.query_params.get("code_url", "")
    order = _scanned(ledger, code_url)
    if order is None:
        return _page("二维码已失效")
    reason = ledger.why_unpayable(order, datetime.now(UTC))
    if reason:
        return _page(reason, f"<p>{html.escape(order.asked.description)}</p>")
    return _page("微信支付", _buttons("/scan", {"code_url": code_url}, order))


async def scan_answer(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    form = await _form(request)
    order = _scanned(ledger, form.get("code_url", ""))
    if order is None:
        return _page("二维码已失效")
    answer = form.get("answer", "")
    reason = _answer(ledger, order, answer)
    return _page(reason or OUTCOMES[answer])


# --- H5: WeChat's cashier page in the phone's browser -----------------------------------------


def _h5_order(ledger: Ledger, values: dict[str, str]) -> Order | None:
    prepay = ledger.prepay(prepay_id=values.get("prepay_id", ""), now=datetime.now(UTC))
    if prepay is None or prepay.token != values.get("token"):
        return None
    order = ledger.orders.get(prepay.out_trade_no)
    return order if order and order.asked.trade_type == "MWEB" else None


async def h5(request: Request) -> Response:
    """WeChat checks where the buyer came from: the Referer's host must be one of the H5
    domains the merchant registered; without it the page refuses, as WeChat's does."""
    ledger: Ledger = request.app.state.ledger
    domains: frozenset[str] = request.app.state.h5_domains
    referer = urlsplit(request.headers.get("referer", ""))
    if (referer.hostname or "") not in domains:
        return _page(MERCHANT_PARAMETERS_WRONG)
    values = {k: request.query_params.get(k, "") for k in ("prepay_id", "token", "redirect_url")}
    order = _h5_order(ledger, values)
    redirect_url = values["redirect_url"]
    if order is None or (redirect_url and not _web_url(redirect_url)):
        return _page(MERCHANT_PARAMETERS_WRONG)
    prepay = ledger.prepays[values["prepay_id"]]
    if (datetime.now(UTC) - prepay.created_at).total_seconds() > H5_SECONDS:
        return _page("链接已失效")
    reason = ledger.why_unpayable(order, datetime.now(UTC))
    if reason:
        return _page(reason, f"<p>{html.escape(order.asked.description)}</p>")
    return _page("微信支付", _buttons("/pay/h5", values, order))


async def h5_answer(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    form = await _form(request)
    order = _h5_order(ledger, form)
    redirect_url = form.get("redirect_url", "")
    if order is None or (redirect_url and not _web_url(redirect_url)):
        return _page(MERCHANT_PARAMETERS_WRONG)
    answer = form.get("answer", "")
    reason = _answer(ledger, order, answer)
    if redirect_url:  # WeChat goes back to the merchant's page whatever happened
        return RedirectResponse(redirect_url, status_code=303)
    return _page(reason or OUTCOMES[answer])


# --- JSAPI: WeixinJSBridge.invoke('getBrandWCPayRequest', ...) --------------------------------


def _jsapi_order(request: Request, values: dict[str, str]) -> Order | str:
    """The order the merchant's signed parameters name, or what WeChat says is wrong."""
    ledger: Ledger = request.app.state.ledger
    merchant_key: rsa.RSAPublicKey = request.app.state.merchant_public_key
    message = "".join(
        f"{values.get(name, '')}\n" for name in ("appId", "timeStamp", "nonceStr", "package")
    )
    if values.get("signType") != "RSA" or not verifies(
        merchant_key, message, values.get("paySign", "")
    ):
        return "支付验证签名失败"
    if values.get("appId") not in ledger.appids:
        return MERCHANT_PARAMETERS_WRONG
    prepay_id = values.get("package", "").removeprefix("prepay_id=")
    prepay = ledger.prepay(prepay_id=prepay_id, now=datetime.now(UTC))
    order = ledger.orders.get(prepay.out_trade_no) if prepay else None
    if order is None or order.asked.trade_type != "JSAPI":
        return "prepay_id已失效"
    if order.asked.appid != values["appId"]:
        return MERCHANT_PARAMETERS_WRONG
    return order


def _back_to(return_url: str, outcome: str) -> str:
    return _with_query(return_url, err_msg=f"get_brand_wcpay_request:{outcome}")


def _jsapi_refusal(title: str, return_url: str) -> Response:
    link = html.escape(_back_to(return_url, "fail"))
    return _page(title, f'<p><a href="{link}">返回商家</a></p>')


async def jsapi(request: Request) -> Response:
    """The bridge page standing in for WeChat's payment sheet: the merchant's page sends the
    buyer here with the parameters it would pass to getBrandWCPayRequest and a `return` URL;
    the answer comes back there as `err_msg`."""
    ledger: Ledger = request.app.state.ledger
    values = {k: request.query_params.get(k, "") for k in JSAPI_FIELDS}
    if not _web_url(values["return"]):
        return _page(MERCHANT_PARAMETERS_WRONG, status=400)
    order = _jsapi_order(request, values)
    if isinstance(order, str):
        return _jsapi_refusal(order, values["return"])
    reason = ledger.why_unpayable(order, datetime.now(UTC))
    if reason:
        return _jsapi_refusal(reason, values["return"])
    return _page("微信支付", _buttons("/pay/jsapi", values, order))


async def jsapi_answer(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    values = await _form(request)
    if not _web_url(values.get("return", "")):
        return _page(MERCHANT_PARAMETERS_WRONG, status=400)
    order = _jsapi_order(request, values)
    if isinstance(order, str):
        return RedirectResponse(_back_to(values["return"], "fail"), status_code=303)
    answer = values.get("answer", "")
    reason = _answer(ledger, order, answer)
    outcome = "fail" if reason else JSAPI_ANSWERS[answer]
    return RedirectResponse(_back_to(values["return"], outcome), status_code=303)


ROUTES = [
    Route("/scan", scan),
    Route("/scan", scan_answer, methods=["POST"]),
    Route("/pay/h5", h5),
    Route("/pay/h5", h5_answer, methods=["POST"]),
    Route("/pay/jsapi", jsapi),
    Route("/pay/jsapi", jsapi_answer, methods=["POST"]),
]
