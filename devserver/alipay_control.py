"""The Alipay stand-in's control endpoints, not Alipay's: unsigned JSON for tests and for a person
in development, to pay or decline as the buyer, lose or repeat notifications, see what was
delivered and what a trade holds (devserver/alipay.py lists them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devserver.alipay_ledger import AlipayError, Ledger, Trade, alipay_time, yuan
from devserver.alipay_notices import Notifier

BODY_LIMIT = 64 * 1024


async def _control_body(request: Request) -> dict[str, Any]:
    """The JSON object sent, or {} for anything else (bodies bounded as the gateway's are)."""
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


def _time(moment: datetime | None) -> str | None:
    return alipay_time(moment) if moment else None


def trade_record(trade: Trade) -> dict[str, Any]:
    """The trade as the control endpoints show it: amounts in fen and in yuan."""
    return {
        "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no,
        "trade_status": trade.trade_status,
        "subject": trade.subject,
        "total_fen": trade.total,
        "total_amount": yuan(trade.total),
        "refunded_fen": trade.refunded,
        "refund_fee": yuan(trade.refunded),
        "gmt_create": _time(trade.gmt_create),
        "gmt_payment": _time(trade.gmt_payment),
        "gmt_close": _time(trade.gmt_close),
        "time_expire": _time(trade.time_expire),
        "notify_url": trade.notify_url,
        "declines": trade.declines,
        "refunds": [
            {
                "out_request_no": refund.out_request_no,
                "refund_fen": refund.amount,
                "refund_amount": yuan(refund.amount),
                "refund_reason": refund.reason,
                "gmt_refund": _time(refund.gmt_refund),
            }
            for refund in trade.refunds.values()
        ],
    }


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


async def control_trade(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    trade = ledger.find(request.path_params["out_trade_no"], datetime.now(UTC))
    if trade is None:
        return JSONResponse({"error": "no such trade: it is made when the cashier opens"}, 404)
    return JSONResponse(trade_record(trade))


async def control_settle(request: Request) -> Response:
    """Pay or decline a trade as its buyer would, without the cashier page."""
    ledger: Ledger = request.app.state.ledger
    now = datetime.now(UTC)
    trade = ledger.find(request.path_params["out_trade_no"], now)
    outcome = request.path_params["outcome"]
    if trade is None or outcome not in ("pay", "decline"):
        return JSONResponse({"error": "no such trade or outcome"}, 404)
    try:
        if outcome == "pay":
            late = (await _control_body(request)).get("late") is True
            ledger.pay(trade, now, late=late)
        else:
            ledger.decline(trade)
    except AlipayError as refusal:
        return JSONResponse({"error": refusal.sub_msg, "trade": trade_record(trade)}, 409)
    return JSONResponse(trade_record(trade))


ROUTES = [
    Route("/_control/health", health),
    Route("/_control/notifications", notifications_mode, methods=["POST"]),
    Route("/_control/deliveries", deliveries),
    Route("/_control/trades/{out_trade_no}", control_trade),
    Route("/_control/trades/{out_trade_no}/{outcome:str}", control_settle, methods=["POST"]),
]
