"""The payer's side of devserver.localstripe's WeChat Pay and Alipay: the page a QR code opens
("scanned with WeChat") or Alipay's redirect leads to, with Pay and Decline buttons (a person,
or a test, plays the payer), and the QR code's pictures and hosted instructions page. They
answer without an API key, as Stripe's hosted pages do.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode, urlsplit

import segno
from aiohttp import web
from localstripe import resources
from localstripe.errors import UserError
from localstripe.webhooks import schedule_webhook

WALLETS = ("wechat_pay", "alipay")
# What a wallet payment the payer declined leaves on its intent.
DECLINED = {
    "code": "payment_intent_payment_attempt_failed",
    "message": "The customer declined the payment in the wallet app.",
}


def _waiting_intent(request: web.Request, wallet: str) -> Any:
    """The intent a wallet page is about, if it waits for this wallet; else None."""
    intent_id = request.match_info["id"]
    try:
        intent = resources.PaymentIntent._api_retrieve(intent_id)
    except UserError:
        return None
    action = intent.next_action or {}
    wanted = "wechat_pay_display_qr_code" if wallet == "wechat_pay" else "alipay_handle_redirect"
    if intent.status != "requires_action" or action.get("type") != wanted:
        return None
    return intent


PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem;
text-align:center}} .amount{{font-size:2.2rem;margin:1rem 0}} button{{font-size:1.1rem;
padding:.7rem 1.4rem;margin:.4rem;border-radius:.4rem;border:1px solid #555;cursor:pointer}}
.pay{{background:{color};color:#fff;border-color:{color}}} .note{{color:#555;font-size:.85rem}}
</style></head><body>
<p class="note">本地模拟 · a local imitation for development and tests, not {name}</p>
<h1>{title}</h1>{body}</body></html>"""
NAMES = {"wechat_pay": ("微信支付 WeChat Pay", "#07c160"), "alipay": ("支付宝 Alipay", "#1677ff")}


def _page(wallet: str, body: str, *, status: int = 200) -> web.Response:
    name, color = NAMES[wallet]
    return web.Response(
        text=PAGE.format(title=html.escape(name), name=html.escape(name), color=color, body=body),
        status=status,
        content_type="text/html",
    )


def _gone(wallet: str) -> web.Response:
    words = "这笔付款已不能支付。This payment can no longer be paid."
    return _page(wallet, f"<p>{words}</p>", status=410)


async def wallet_page(request: web.Request) -> web.StreamResponse:
    """The page the QR code opens ("scanned with WeChat"), or Alipay's redirect page."""
    wallet = request.match_info["wallet"]
    intent = _waiting_intent(request, wallet)
    if intent is None:
        return _gone(wallet)
    amount = f"¥{intent.amount // 100}.{intent.amount % 100:02d}"
    base = f"/_wallet/{wallet}/{intent.id}"
    body = (
        f'<p class="amount">{html.escape(amount)}</p>'
        f'<form method="post" action="{base}/pay"><button class="pay" type="submit">'
        "确认支付 Pay</button></form>"
        f'<form method="post" action="{base}/decline"><button type="submit">'
        "拒绝 Decline</button></form>"
    )
    return _page(wallet, body)


async def wallet_answer(request: web.Request) -> web.StreamResponse:
    """Pay or Decline, pressed on a wallet page."""
    wallet = request.match_info["wallet"]
    intent = _waiting_intent(request, wallet)
    if intent is None:
        return _gone(wallet)
    intent.next_action = None
    paid = request.match_info["answer"] == "pay"
    if paid:
        intent._create_charge(on_failure_now=intent._report_async_failure)
    else:
        intent.payment_method = None
        intent._wallet_error = dict(DECLINED)
        schedule_webhook(resources.Event("payment_intent.payment_failed", intent))
    if wallet == "alipay" and intent._return_url:
        query = urlencode(
            {
                "payment_intent": intent.id,
                "payment_intent_client_secret": intent.client_secret,
                "redirect_status": "succeeded" if paid else "failed",
            }
        )
        joiner = "&" if urlsplit(intent._return_url).query else "?"
        raise web.HTTPSeeOther(f"{intent._return_url}{joiner}{query}")
    words = "已支付。Paid." if paid else "已拒绝。Declined."
    return _page(wallet, f'<p class="amount">{words}</p>')


async def wechat_qr(request: web.Request) -> web.StreamResponse:
    """image_url_png / image_url_svg, and the hosted instructions page that shows the code."""
    intent = _waiting_intent(request, "wechat_pay")
    if intent is None:
        return _gone("wechat_pay")
    # This process's own address, as the browser reached it.
    here = f"{request.scheme}://{request.host}"
    code = segno.make(f"{here}/_wallet/wechat_pay/{intent.id}", error="m")
    kind = request.match_info["kind"]
    if kind == "qr.png":
        return web.Response(body=_qr_bytes(code, "png"), content_type="image/png")
    svg = _qr_bytes(code, "svg").decode()
    if kind == "qr.svg":
        return web.Response(text=svg, content_type="image/svg+xml")
    body = (
        f"<p>用微信扫一扫下面的二维码付款。Scan this code with WeChat to pay.</p>{svg}"
        '<p class="note">在另一台设备上打开本页即可扫码。'
        "Open this page on another device to scan it.</p>"
    )
    return _page("wechat_pay", body)


def _qr_bytes(code: Any, kind: str) -> bytes:
    import io

    out = io.BytesIO()
    code.save(out, kind=kind, scale=6, border=2, **({"xmldecl": False} if kind == "svg" else {}))
    return out.getvalue()


@web.middleware
async def serve(request: web.Request, handler: Any) -> web.StreamResponse:
    """The wallet pages answer without an API key, as Stripe's hosted pages do."""
    parts = request.path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "_wallet" and parts[1] in WALLETS:
        request.match_info.update({"wallet": parts[1], "id": parts[2]})
        if len(parts) == 3 and request.method == "GET":
            return await wallet_page(request)
        if len(parts) == 4 and request.method == "POST" and parts[3] in ("pay", "decline"):
            request.match_info["answer"] = parts[3]
            return await wallet_answer(request)
        if (
            len(parts) == 4
            and request.method == "GET"
            and parts[1] == "wechat_pay"
            and parts[3] in ("qr.png", "qr.svg", "instructions")
        ):
            request.match_info["kind"] = parts[3]
            return await wechat_qr(request)
        raise web.HTTPNotFound()
    response: web.StreamResponse = await handler(request)
    return response
