"""The WeChat Pay stand-in's books: orders, their prepay handles, refunds, and WeChat's rules for
placing, paying, closing and refunding, in memory (devserver/wechatpay.py speaks the protocol)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

SHANGHAI = timezone(timedelta(hours=8))
ORDER_LIMIT = 100_000  # memory is bounded: more orders are refused with SYSTEM_ERROR
PREPAYS_PER_ORDER = 10  # re-placing an order keeps its newest handles only
REFUNDS_PER_ORDER = 50  # WeChat's own limit of partial refunds per order
H5_SECONDS = 300  # an h5_url opens for five minutes (WeChat's documented validity)
PREPAY_SECONDS = 7200  # a code_url or prepay_id lives two hours
REFUND_SECONDS = 0.2  # a refund is PROCESSING this long, then SUCCESS
PAID = ("SUCCESS", "REFUND")
TRADE_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "CLOSED": "订单已关闭",
    "PAYERROR": "支付失败，请重新下单支付",
}


def wechat_time(moment: datetime) -> str:
    """RFC 3339 in Beijing time, to the second, as WeChat writes its times."""
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


class ApiError(Exception):
    """A refusal in WeChat Pay's words: HTTP status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message = status, code, message


def order_not_found() -> ApiError:
    return ApiError(404, "ORDER_NOT_EXIST", "订单不存在")


@dataclass(frozen=True)
class OrderRequest:
    """A validated order placement (native, h5 or jsapi)."""

    trade_type: str  # "NATIVE" | "MWEB" (h5) | "JSAPI"
    appid: str
    description: str
    out_trade_no: str
    time_expire: datetime
    attach: str
    notify_url: str
    total: int
    payer_openid: str = ""  # JSAPI: the buyer, known before paying
    payer_client_ip: str = ""  # H5


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str
    reason: str
    notify_url: str  # "" falls back to the order's
    refund: int
    total: int


@dataclass
class Prepay:
    """One answer to a placement: what a code_url, an h5_url or a prepay_id opens."""

    prepay_id: str
    token: str  # the code_url's pr, or the h5_url's token
    out_trade_no: str
    created_at: datetime


@dataclass
class Order:
    asked: OrderRequest
    created_at: datetime
    trade_state: str = "NOTPAY"
    transaction_id: str = ""
    success_time: datetime | None = None
    payer_openid: str = ""
    prepay_ids: list[str] = field(default_factory=list)
    refund_nos: list[str] = field(default_factory=list)


@dataclass
class Refund:
    asked: RefundRequest
    refund_id: str
    transaction_id: str
    notify_url: str
    created_at: datetime
    status: str = "PROCESSING"
    success_time: datetime | None = None


@dataclass(frozen=True)
class Notice:
    """A notification to send: the event and its resource before encryption."""

    event_type: str  # "TRANSACTION.SUCCESS" | "REFUND.SUCCESS"
    notify_url: str
    out_trade_no: str
    summary: str
    original_type: str  # "transaction" | "refund"
    resource: dict[str, Any]


@dataclass
class Ledger:
    mchid: str
    appids: frozenset[str]
    notify: Callable[[Notice], None]
    refuse_close_within: float = 0.0
    orders: dict[str, Order] = field(default_factory=dict)
    prepays: dict[str, Prepay] = field(default_factory=dict)  # by prepay_id
    tokens: dict[str, str] = field(default_factory=dict)  # code_url pr / h5 token -> prepay_id
    refunds: dict[str, Refund] = field(default_factory=dict)  # by out_refund_no

    def check_merchant(self, mchid: str, appid: str | None = None) -> None:
        if mchid != self.mchid or (appid is not None and appid not in self.appids):
            raise ApiError(400, "PARAM_ERROR", "appid和mch_id不匹配")

    def order(self, out_trade_no: str) -> Order:
        found = self.orders.get(out_trade_no)
        if found is None:
            raise order_not_found()
        return found

    def place(self, asked: OrderRequest, now: datetime) -> Prepay:
        """Place an order, or place it again: the same out_trade_no with the same amount,
        description, attach, appid and trade type answers a fresh handle; anything else is a
        duplicate number. A paid or closed order cannot be placed again; a failed one
        (PAYERROR) placed again is payable again."""
        order = self.orders.get(asked.out_trade_no)
        if order is None:
            if len(self.orders) >= ORDER_LIMIT:
                raise ApiError(503, "SYSTEM_ERROR", "系统繁忙，请稍后重试")
            order = Order(asked=asked, created_at=now, payer_openid=asked.payer_openid)
            self.orders[asked.out_trade_no] = order
        elif order.trade_state in PAID:
            raise ApiError(400, "ORDERPAID", "该订单已支付")
        elif order.trade_state == "CLOSED":
            raise ApiError(400, "ORDER_CLOSED", "订单已关闭")
        else:
            first = order.asked
            same = (first.total, first.description, first.attach, first.appid, first.trade_type)
            if same != (
                asked.total,
                asked.description,
                asked.attach,
                asked.appid,
                asked.trade_type,
            ):
                raise ApiError(400, "INVALID_REQUEST", "商户订单号重复")
            order.trade_state = "NOTPAY"
        prepay = Prepay(
            prepay_id=f"wx{now.astimezone(SHANGHAI):%d%H%M%S}{secrets.token_hex(13)}",
            token=secrets.token_urlsafe(9),
            out_trade_no=asked.out_trade_no,
            created_at=now,
        )
        self.prepays[prepay.prepay_id] = prepay
        self.tokens[prepay.token] = prepay.prepay_id
        order.prepay_ids.append(prepay.prepay_id)
        for old in order.prepay_ids[:-PREPAYS_PER_ORDER]:
            self.tokens.pop(self.prepays.pop(old).token, None)
        del order.prepay_ids[:-PREPAYS_PER_ORDER]
        return prepay

    def prepay(self, *, prepay_id: str = "", token: str = "", now: datetime) -> Prepay | None:
        """A live handle, by its prepay_id or its token."""
        found = self.prepays.get(prepay_id or self.tokens.get(token, ""))
        if found is None or (now - found.created_at).total_seconds() > PREPAY_SECONDS:
            return None
        return found

    def close(self, out_trade_no: str, now: datetime) -> None:
        """Close an unpaid order (closing a closed one again is fine); a paid one is refused,
        and so is one younger than the refusal window (WeChat advises five minutes)."""
        order = self.order(out_trade_no)
        if order.trade_state in PAID:
            raise ApiError(400, "ORDERPAID", "该订单已支付")
        if (now - order.created_at).total_seconds() < self.refuse_close_within:
            raise ApiError(400, "INVALID_REQUEST", "订单创建后5分钟内不能关单")
        order.trade_state = "CLOSED"

    def why_unpayable(self, order: Order, now: datetime, *, late: bool = False) -> str | None:
        """Why the buyer cannot pay this order now (the wallet's words), or None."""
        if order.trade_state in PAID:
            return "订单已支付"
        if order.trade_state != "NOTPAY":
            return TRADE_STATE_DESC[order.trade_state]
        if now >= order.asked.time_expire and not late:
            return "订单已失效"
        return None

    def buyer_openid(self, order: Order) -> str:
        """Who pays: the JSAPI order's payer, or the one buyer this stand-in plays per app."""
        if order.payer_openid:
            return order.payer_openid
        digest = hashlib.sha256(f"buyer:{order.asked.appid}".encode()).hexdigest()
        return f"o{digest[:27]}"

    def pay(self, order: Order, now: datetime, *, late: bool = False) -> None:
        """The buyer pays: SUCCESS, and TRANSACTION.SUCCESS is sent. `late` pays after
        time_expire, recorded at the edge (a second before it), as a payment that WeChat
        took in time but whose notification comes after the merchant's hold ended."""
        reason = self.why_unpayable(order, now, late=late)
        if reason:
            raise ApiError(400, "INVALID_REQUEST", reason)
        order.trade_state = "SUCCESS"
        order.payer_openid = self.buyer_openid(order)
        order.transaction_id = f"42000{_digits(5)}{now.astimezone(SHANGHAI):%Y%m%d}{_digits(10)}"
        order.success_time = min(now, order.asked.time_expire - timedelta(seconds=1))
        self.notify(
            Notice(
                event_type="TRANSACTION.SUCCESS",
                notify_url=order.asked.notify_url,
                out_trade_no=order.asked.out_trade_no,
                summary="支付成功",
                original_type="transaction",
                resource=self.transaction(order),
            )
        )

    def decline(self, order: Order, now: datetime) -> None:
        """The buyer's payment fails: PAYERROR, and nothing is sent (WeChat notifies successes)."""
        reason = self.why_unpayable(order, now)
        if reason:
            raise ApiError(400, "INVALID_REQUEST", reason)
        order.trade_state = "PAYERROR"
        order.payer_openid = self.buyer_openid(order)

    def transaction(self, order: Order) -> dict[str, Any]:
        """The order as the query answers it; an unpaid order has no trade_type, payer,
        transaction_id or success_time, and its amount only total and payer_currency, as
        WeChat answers for NOTPAY and CLOSED."""
        asked = order.asked
        answer: dict[str, Any] = {
            "appid": asked.appid,
            "mchid": self.mchid,
            "out_trade_no": asked.out_trade_no,
            "attach": asked.attach,
            "trade_state": order.trade_state,
            "trade_state_desc": TRADE_STATE_DESC[order.trade_state],
            "amount": {"total": asked.total, "payer_currency": "CNY"},
        }
        if order.trade_state in (*PAID, "PAYERROR"):
            answer.update(
                trade_type=asked.trade_type,
                bank_type="OTHERS",
                payer={"openid": order.payer_openid},
            )
        if order.trade_state in PAID and order.success_time:
            answer.update(
                transaction_id=order.transaction_id,
                success_time=wechat_time(order.success_time),
                amount={
                    "total": asked.total,
                    "payer_total": asked.total,
                    "currency": "CNY",
                    "payer_currency": "CNY",
                },
            )
        return answer

    def refund(self, asked: RefundRequest, now: datetime) -> Refund:
        """Refund part or all of a paid order. The same out_refund_no again is the same refund
        (whatever has happened since). The refund turns SUCCESS REFUND_SECONDS later: the order
        reads REFUND and REFUND.SUCCESS is sent."""
        existing = self.refunds.get(asked.out_refund_no)
        if existing is not None:
            if existing.asked.out_trade_no != asked.out_trade_no:
                raise ApiError(400, "INVALID_REQUEST", "退款单号重复")
            return existing
        order = self.orders.get(asked.out_trade_no)
        if order is None:
            raise ApiError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        if order.trade_state not in PAID:
            raise ApiError(400, "INVALID_REQUEST", "订单未支付")
        if asked.total != order.asked.total:
            raise ApiError(400, "INVALID_REQUEST", "订单金额与原订单不一致")
        refunded = sum(self.refunds[no].asked.refund for no in order.refund_nos)
        if asked.refund > order.asked.total - refunded:
            raise ApiError(403, "NOT_ENOUGH", "可退金额不足")
        if len(order.refund_nos) >= REFUNDS_PER_ORDER:
            raise ApiError(400, "INVALID_REQUEST", "退款次数超过限制")
        refund = Refund(
            asked=asked,
            refund_id=f"50000{_digits(24)}",
            transaction_id=order.transaction_id,
            notify_url=asked.notify_url or order.asked.notify_url,
            created_at=now,
        )
        self.refunds[asked.out_refund_no] = refund
        order.refund_nos.append(asked.out_refund_no)
        asyncio.get_running_loop().call_later(REFUND_SECONDS, self._refund_succeeds, refund)
        return refund

    def _refund_succeeds(self, refund: Refund) -> None:
        refund.status = "SUCCESS"
        refund.success_time = datetime.now(UTC)
        order = self.orders[refund.asked.out_trade_no]
        order.trade_state = "REFUND"
        self.notify(
            Notice(
                event_type="REFUND.SUCCESS",
                notify_url=refund.notify_url,
                out_trade_no=refund.asked.out_trade_no,
                summary="退款成功",
                original_type="refund",
                resource={
                    "mchid": self.mchid,
                    "out_trade_no": refund.asked.out_trade_no,
                    "transaction_id": refund.transaction_id,
                    "out_refund_no": refund.asked.out_refund_no,
                    "refund_id": refund.refund_id,
                    "refund_status": "SUCCESS",
                    "success_time": wechat_time(refund.success_time),
                    "user_received_account": "支付用户零钱",
                    "amount": {
                        "total": refund.asked.total,
                        "refund": refund.asked.refund,
                        "payer_total": refund.asked.total,
                        "payer_refund": refund.asked.refund,
                    },
                },
            )
        )

    def refund_record(self, refund: Refund) -> dict[str, Any]:
        """The refund as creating and querying it answer."""
        answer: dict[str, Any] = {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.asked.out_refund_no,
            "transaction_id": refund.transaction_id,
            "out_trade_no": refund.asked.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": wechat_time(refund.created_at),
            "status": refund.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": refund.asked.total,
                "refund": refund.asked.refund,
                "payer_total": refund.asked.total,
                "payer_refund": refund.asked.refund,
                "settlement_refund": refund.asked.refund,
                "settlement_total": refund.asked.total,
                "discount_refund": 0,
                "currency": "CNY",
            },
            "promotion_detail": [],
        }
        if refund.success_time:
            answer["success_time"] = wechat_time(refund.success_time)
        return answer
