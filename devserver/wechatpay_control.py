"""The WeChat Pay stand-in's control endpoints, not WeChat's: unsigned JSON for tests and for a
person in development, to pay or decline as the buyer, lose or repeat notifications, see what
was delivered and what an order holds (devserver/wechatpay.py lists them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devserver.wechatpay_ledger import ApiError, Ledger, wechat_time
from devserver.wechatpay_notices import Notifier

BODY_LIMIT = 64 * 1024


async def _control_body(request: Request) -> dict[str, Any]:
    """The JSON object sent, or {} for anything else (bodies bounded as the API's are)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_LIMIT:
            return {}
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def notifications_mode(request: Request) -> Response:
    mode = (await _control_body(request)).get("mode")
    if mode not in ("deliver", "lose", "repeat"):
        return JSONResponse({"error": "mode: deliver, lose or repeat"}, 400)
    notifier: Notifier = request.app.state.notifier
    notifier.mode = mode
    return JSONResponse({"mode": mode})


async def deliveries(request: Request) -> Response:
    notifier: Notifier = request.app.state.notifier
    return JSONResponse(list(notifier.deliveries))


async def control_order(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    order = ledger.orders.get(request.path_params["out_trade_no"])
    if order is None:
        return JSONResponse({"error": "no such order"}, 404)
    return JSONResponse(
        {
            "transaction": ledger.transaction(order),
            "trade_type": order.asked.trade_type,
            "description": order.asked.description,
            "notify_url": order.asked.notify_url,
            "created_at": wechat_time(order.created_at),
            "time_expire": wechat_time(order.asked.time_expire),
            "prepays": [
                {
                    "prepay_id": p.prepay_id,
                    "token": p.token,
                    "created_at": wechat_time(p.created_at),
                }
                for p in (ledger.prepays[i] for i in order.prepay_ids)
            ],
            "refunds": [ledger.refund_record(ledger.refunds[no]) for no in order.refund_nos],
        }
    )


async def control_settle(request: Request) -> Response:
    """Pay or decline an order as its buyer would, without the pages."""
    ledger: Ledger = request.app.state.ledger
    order = ledger.orders.get(request.path_params["out_trade_no"])
    if order is None or request.path_params["outcome"] not in ("pay", "decline"):
        return JSONResponse({"error": "no such order or outcome"}, 404)
    now = datetime.now(UTC)
    try:
        if request.path_params["outcome"] == "pay":
            late = (await _control_body(request)).get("late") is True
            ledger.pay(order, now, late=late)
        else:
            ledger.decline(order, now)
    except ApiError as refusal:
        return JSONResponse({"error": refusal.message}, 409)
    return JSONResponse(ledger.transaction(order))


async def close_refusal(request: Request) -> Response:
    seconds = (await _control_body(request)).get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        return JSONResponse({"error": "seconds: a number, 0 or more"}, 400)
    ledger: Ledger = request.app.state.ledger
    ledger.refuse_close_within = float(seconds)
    return JSONResponse({"seconds": seconds})


ROUTES = [
    Route("/_control/health", health),
    Route("/_control/notifications", notifications_mode, methods=["POST"]),
    Route("/_control/deliveries", deliveries),
    Route("/_control/orders/{out_trade_no}", control_order),
    Route("/_control/orders/{out_trade_no}/{outcome:str}", control_settle, methods=["POST"]),
    Route("/_control/close-refusal", close_refusal, methods=["POST"]),
]
