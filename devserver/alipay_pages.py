"""The buyer's side of the Alipay stand-in: the cashier page, whose buttons (确认付款, 付款失败,
放弃付款) a person or a test presses as the buyer, the signed return to the app, and the
gateway's error page. Plain HTML forms, no scripts, no assets; fit for a phone and a computer."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from devserver.alipay_ledger import (
    SHANGHAI,
    AlipayError,
    Cashier,
    Ledger,
    Trade,
    alipay_time,
    yuan,
)
from devserver.alipay_notices import signed_by_alipay

FORM_LIMIT = 4 * 1024
PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} - 支付宝</title>
<style>body{{margin:0;background:#f5f5f5;color:#333;font-family:-apple-system,"PingFang SC",
"Microsoft YaHei",sans-serif;line-height:1.5}} header{{background:#1677ff;color:#fff;
padding:.8rem 1rem;font-size:1.1rem}} main{{max-width:28rem;margin:2rem auto;padding:1.5rem;
background:#fff;border-radius:.5rem;text-align:center}} h1{{font-size:1.3rem;font-weight:500}}
button{{display:block;width:100%;font-size:1.05rem;padding:.75rem;margin:.6rem 0;
border-radius:.4rem;border:1px solid #ccc;background:#fff;color:#333;cursor:pointer}}
#pay{{background:#1677ff;border-color:#1677ff;color:#fff}} .amount{{font-size:2.2rem;
font-weight:600;margin:.5rem 0}} .note{{color:#888;font-size:.85rem;word-break:break-all}}
.failed{{color:#d4380d}} code{{font-size:1rem}}
@media (max-width:30rem){{main{{margin:0;border-radius:0}}}}</style></head><body>
<header>支付宝 · 收银台</header><main><h1>{title}</h1>{body}
<p class="note">本地模拟 · a local imitation of Alipay for development and tests</p></main>
</body></html>"""
RETURN_PARAMETERS = frozenset({
    "charset", "out_trade_no", "method", "total_amount", "sign", "trade_no", "auth_app_id",
    "version", "app_id", "sign_type", "seller_id", "timestamp",
})  # fmt: skip
ANSWERS = {"pay": "确认付款", "decline": "付款失败", "abandon": "放弃付款"}


def _page(title: str, body: str = "", *, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status)


def cashier_page(trade: Trade, cashier: Cashier, *, failed: str = "") -> HTMLResponse:
    """The cashier for one opening of the trade; `failed` says why the last attempt failed."""
    token = html.escape(cashier.token)
    forms = "".join(
        f'<form method="post" action="/cashier/{answer}">'
        f'<input type="hidden" name="token" value="{token}">'
        f'<button id="{answer}">{label}</button></form>'
        for answer, label in ANSWERS.items()
    )
    deadline = trade.time_expire.astimezone(SHANGHAI).strftime("%m月%d日 %H:%M")
    body = (
        f"<p>{html.escape(trade.subject)}</p>"
        f'<p class="amount">¥{yuan(trade.total)}</p>'
        f'<p class="note">商户订单号 {html.escape(trade.out_trade_no)}<br>请在{deadline}前付款</p>'
        + (f'<p class="failed">{html.escape(failed)}</p>' if failed else "")
        + forms
    )
    return _page("付款失败" if failed else "支付宝付款", body)


def refusal_page(refusal: AlipayError) -> HTMLResponse:
    """The gateway's refusal of a page or wap pay, as Alipay shows it: the code and the reason."""
    code = refusal.sub_code.removeprefix("isv.")
    title = "调试错误，请回到请求来源地，重新发起请求。"
    if refusal.sub_code.startswith("ACQ."):
        title = "抱歉，无法付款"
    body = (
        f"<p>错误代码 <code>{html.escape(code)}</code></p>"
        f"<p>错误原因：{html.escape(refusal.sub_msg)}</p>"
    )
    return _page(title, body, status=400)


def _with_query(url: str, values: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(values)}" if parts.query else urlencode(values)
    return urlunsplit(parts._replace(query=query))


def return_url(request: Request, trade: Trade, cashier: Cashier) -> str:
    """Where the browser goes once paid: return_url with Alipay's return parameters appended,
    signed. The signature covers what the app receives: return_url's own query too, so the app
    checks every parameter but sign and sign_type, as it does a notification."""
    ledger: Ledger = request.app.state.ledger
    key: rsa.RSAPrivateKey = request.app.state.alipay_private_key
    own = dict(parse_qsl(urlsplit(cashier.return_url).query, keep_blank_values=True))
    values = signed_by_alipay(
        key,
        own
        | {
            "charset": "utf-8",
            "out_trade_no": trade.out_trade_no,
            "method": f"{cashier.method}.return",
            "total_amount": yuan(trade.total),
            "trade_no": trade.trade_no,
            "auth_app_id": ledger.app_id,
            "version": "1.0",
            "app_id": ledger.app_id,
            "sign_type": "RSA2",
            "seller_id": ledger.seller_id,
            "timestamp": alipay_time(datetime.now(UTC)),
        },
    )
    return _with_query(cashier.return_url, {k: v for k, v in values.items() if k not in own})


async def _token(request: Request) -> str:
    """The posted form's token; "" for anything too big or malformed (the page refuses)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            return ""
    try:
        pairs = parse_qsl(body.decode(), max_num_fields=8)
    except ValueError:
        return ""
    return dict(pairs).get("token", "")


async def cashier_answer(request: Request) -> Response:
    """The buyer pressed a button: pay, decline or abandon."""
    ledger: Ledger = request.app.state.ledger
    answer = request.path_params["answer"]
    cashier = ledger.cashiers.get(await _token(request))
    now = datetime.now(UTC)
    trade = ledger.find(cashier.out_trade_no, now) if cashier else None
    if answer not in ANSWERS or cashier is None or trade is None:
        return _page("页面已失效", "<p>请回到商户重新发起付款。</p>", status=400)
    if answer == "abandon":
        if cashier.quit_url:
            return RedirectResponse(cashier.quit_url, status_code=302)
        return _page("已放弃付款", f"<p>{html.escape(trade.subject)}</p>")
    try:
        if answer == "decline":
            ledger.decline(trade)
            return cashier_page(trade, cashier, failed="付款失败：账户余额不足，请换一种方式再试")
        ledger.pay(trade, now)
    except AlipayError as refusal:
        return _page(refusal.sub_msg, f"<p>{html.escape(trade.subject)}</p>", status=409)
    if cashier.return_url:
        return RedirectResponse(return_url(request, trade, cashier), status_code=302)
    return _page(
        "付款成功", f'<p>{html.escape(trade.subject)}</p><p class="amount">¥{yuan(trade.total)}</p>'
    )


ROUTES = [Route("/cashier/{answer}", cashier_answer, methods=["POST"])]
