"""The Alipay stand-in's trades and refunds, in memory, with Alipay's rules: a trade made when the
buyer opens the cashier, paid, closed by the merchant or by its time_expire, refunded."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

SHANGHAI = timezone(timedelta(hours=8))
TRADE_LIMIT = 100_000  # memory is bounded: more trades are refused as a system error
CASHIERS_PER_TRADE = 10  # opening a trade again keeps its newest cashier pages only
REFUNDS_PER_TRADE = 50
MOST_FEN = 10_000_000_000  # 100000000.00 yuan: Alipay's largest single amount
YUAN = re.compile(r"(0|[1-9][0-9]{0,8})\.[0-9]{2}")
BUYER_ID = "2088102177000001"  # the one buyer this stand-in plays
BUYER_LOGON_ID = "sho***@example.com"
WAITING, SUCCESS, CLOSED, FINISHED = (
    "WAIT_BUYER_PAY",
    "TRADE_SUCCESS",
    "TRADE_CLOSED",
    "TRADE_FINISHED",
)


def alipay_time(moment: datetime) -> str:
    """'YYYY-MM-DD HH:MM:SS' in Beijing time, as Alipay writes its times."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def parse_alipay_time(text: str) -> datetime | None:
    """An Alipay time ('YYYY-MM-DD HH:MM:SS', Beijing time) as UTC, or None if it is not one."""
    if len(text) != 19:
        return None
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 (zone set below)
    except ValueError:
        return None
    return moment.replace(tzinfo=SHANGHAI).astimezone(UTC)


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def parse_yuan(text: str) -> int | None:
    """An amount as Alipay takes it from us ('12.34': two decimals, 0.01 to 100000000.00) in
    fen, or None."""
    if not YUAN.fullmatch(text):
        return None
    whole, cents = text.split(".")
    fen = int(whole) * 100 + int(cents)
    return fen if 1 <= fen <= MOST_FEN else None


def _digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


class AlipayError(Exception):
    """A refusal in Alipay's words: code and msg, sub_code and sub_msg."""

    def __init__(self, code: str, msg: str, sub_code: str, sub_msg: str) -> None:
        super().__init__(f"{code} {sub_code} {sub_msg}")
        self.code, self.msg, self.sub_code, self.sub_msg = code, msg, sub_code, sub_msg

    def answer(self) -> dict[str, str]:
        return {
            "code": self.code,
            "msg": self.msg,
            "sub_code": self.sub_code,
            "sub_msg": self.sub_msg,
        }


def business_failed(sub_code: str, sub_msg: str) -> AlipayError:
    return AlipayError("40004", "Business Failed", sub_code, sub_msg)


def invalid_arguments(sub_code: str, sub_msg: str) -> AlipayError:
    return AlipayError("40002", "Invalid Arguments", sub_code, sub_msg)


def trade_not_exist() -> AlipayError:
    return business_failed("ACQ.TRADE_NOT_EXIST", "交易不存在")


def status_error(sub_msg: str) -> AlipayError:
    return business_failed("ACQ.TRADE_STATUS_ERROR", sub_msg)


@dataclass(frozen=True)
class TradeRequest:
    """A validated page or wap pay: what opening the cashier asks for."""

    method: str  # "alipay.trade.page.pay" | "alipay.trade.wap.pay"
    out_trade_no: str
    total: int  # fen
    subject: str
    time_expire: datetime
    notify_url: str
    return_url: str
    quit_url: str


@dataclass(frozen=True)
class Cashier:
    """One opening of the cashier page: the trade it pays and where the browser goes after."""

    token: str
    out_trade_no: str
    method: str
    return_url: str
    quit_url: str


@dataclass
class Refund:
    out_request_no: str
    amount: int  # fen
    reason: str
    gmt_refund: datetime


@dataclass
class Trade:
    out_trade_no: str
    trade_no: str
    subject: str
    total: int  # fen
    time_expire: datetime
    notify_url: str
    gmt_create: datetime
    trade_status: str = WAITING
    gmt_payment: datetime | None = None
    gmt_close: datetime | None = None
    declines: int = 0
    refunds: dict[str, Refund] = field(default_factory=dict)  # by out_request_no, in order
    cashiers: list[str] = field(default_factory=list)  # tokens, oldest first

    @property
    def refunded(self) -> int:
        return sum(refund.amount for refund in self.refunds.values())


Notify = Callable[[str, dict[str, str]], None]  # (notify_url, the notification's parameters)


@dataclass
class Ledger:
    app_id: str
    seller_id: str
    notify: Notify
    trades: dict[str, Trade] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)  # out_trade_nos of WAIT_BUYER_PAY trades
    cashiers: dict[str, Cashier] = field(default_factory=dict)  # by token
    by_trade_no: dict[str, str] = field(default_factory=dict)  # trade_no -> out_trade_no

    # --- Reading, with expiry applied ----------------------------------------------------------

    def find(self, out_trade_no: str, now: datetime, *, trade_no: str = "") -> Trade | None:
        """The trade by trade_no (Alipay's number, first if given) or out_trade_no, closed first
        if its time has passed; None if there is none, or if the two numbers disagree."""
        trade = self.trades.get(self.by_trade_no.get(trade_no, "") if trade_no else out_trade_no)
        if trade is not None and out_trade_no and trade.out_trade_no != out_trade_no:
            return None
        if trade is not None:
            self._expire_if_due(trade, now)
        return trade

    def trade(self, out_trade_no: str, now: datetime, *, trade_no: str = "") -> Trade:
        found = self.find(out_trade_no, now, trade_no=trade_no)
        if found is None:
            raise trade_not_exist()
        return found

    def _expire_if_due(self, trade: Trade, now: datetime) -> None:
        # A trade unpaid at its time_expire is closed then (whenever we notice), as Alipay
        # closes it: the buyer can no longer pay it, and TRADE_CLOSED is sent.
        if trade.trade_status == WAITING and now >= trade.time_expire:
            self._close(trade, trade.time_expire)

    def expire_due(self, now: datetime) -> None:
        """The sweep: close every waiting trade whose time_expire has passed."""
        for out_trade_no in list(self.waiting):
            self._expire_if_due(self.trades[out_trade_no], now)

    # --- The buyer opens the cashier -----------------------------------------------------------

    def open(self, asked: TradeRequest, now: datetime) -> Cashier:
        """Alipay makes the trade when the buyer opens the cashier: a new out_trade_no is a new
        trade; the same one again, with the same amount and subject, is the same trade (any
        other amount or subject is ACQ.CONTEXT_INCONSISTENT); a closed or paid one, or one past
        its time_expire, cannot be opened."""
        trade = self.find(asked.out_trade_no, now)
        if trade is None:
            if now >= asked.time_expire:
                raise business_failed("ACQ.TRADE_HAS_CLOSE", "交易已关闭（订单已超时）")
            if len(self.trades) >= TRADE_LIMIT:
                raise AlipayError(
                    "20000", "Service Currently Unavailable", "isp.unknow-error", "系统繁忙"
                )
            trade = Trade(
                out_trade_no=asked.out_trade_no,
                trade_no=f"{now.astimezone(SHANGHAI):%Y%m%d}2200140{_digits(13)}",
                subject=asked.subject,
                total=asked.total,
                time_expire=asked.time_expire,
                notify_url=asked.notify_url,
                gmt_create=now,
            )
            self.trades[trade.out_trade_no] = trade
            self.by_trade_no[trade.trade_no] = trade.out_trade_no
            self.waiting.add(trade.out_trade_no)
        elif (trade.total, trade.subject) != (asked.total, asked.subject):
            raise business_failed("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
        elif trade.trade_status == CLOSED and trade.gmt_payment is None:
            expired = trade.gmt_close == trade.time_expire
            raise business_failed(
                "ACQ.TRADE_HAS_CLOSE", "交易已关闭（订单已超时）" if expired else "交易已关闭"
            )
        elif trade.trade_status != WAITING:
            raise business_failed("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
        elif asked.notify_url:
            trade.notify_url = asked.notify_url  # the latest request's, as Alipay keeps it
        cashier = Cashier(
            token=secrets.token_urlsafe(18),
            out_trade_no=trade.out_trade_no,
            method=asked.method,
            return_url=asked.return_url,
            quit_url=asked.quit_url,
        )
        self.cashiers[cashier.token] = cashier
        trade.cashiers.append(cashier.token)
        for old in trade.cashiers[:-CASHIERS_PER_TRADE]:
            self.cashiers.pop(old, None)
        del trade.cashiers[:-CASHIERS_PER_TRADE]
        return cashier

    def why_unpayable(self, trade: Trade, *, late: bool = False) -> str | None:
        """Why the buyer cannot pay this trade now (the cashier's words), or None. Expiry has
        been applied by `find`. `late` pays a closed unpaid trade: the payer and the close
        crossed, Alipay took the money."""
        if trade.gmt_payment is not None:
            return "交易已被支付"
        if trade.trade_status == CLOSED and not late:
            return "交易已关闭"
        return None

    def pay(self, trade: Trade, now: datetime, *, late: bool = False) -> None:
        """The buyer pays: TRADE_SUCCESS, and its notification is sent. A late payment is
        recorded at the edge, a second before the trade closed (its time_expire, or the
        merchant's close), and notified now."""
        reason = self.why_unpayable(trade, late=late)
        if reason:
            raise business_failed("ACQ.TRADE_STATUS_ERROR", reason)
        edges = [now, trade.time_expire - timedelta(seconds=1)]
        if trade.gmt_close is not None:
            edges.append(trade.gmt_close - timedelta(seconds=1))
        trade.gmt_payment = max(trade.gmt_create, min(edges))
        trade.trade_status, trade.gmt_close = SUCCESS, None
        self.waiting.discard(trade.out_trade_no)
        self._notify(trade, now)

    def decline(self, trade: Trade) -> None:
        """The buyer's payment fails (余额不足): the trade stays WAIT_BUYER_PAY, nothing is sent."""
        reason = self.why_unpayable(trade)
        if reason:
            raise business_failed("ACQ.TRADE_STATUS_ERROR", reason)
        trade.declines += 1

    # --- The merchant's calls ------------------------------------------------------------------

    def close(self, trade: Trade, now: datetime) -> None:
        """Close an unpaid trade (a closed one again is fine); a paid one is refused."""
        if trade.gmt_payment is not None:
            raise status_error("交易状态不合法")
        if trade.trade_status == WAITING:
            self._close(trade, now)

    def _close(self, trade: Trade, when: datetime) -> None:
        trade.trade_status, trade.gmt_close = CLOSED, when
        self.waiting.discard(trade.out_trade_no)
        self._notify(trade, when)

    def refund(
        self, trade: Trade, *, out_request_no: str, amount: int, reason: str, now: datetime
    ) -> tuple[Refund, bool]:
        """Refund part or all of a paid trade; (the refund, whether money moved). The same
        out_request_no with the same amount is the same refund (nothing moves). Once refunded in
        full the trade reads TRADE_CLOSED. Each refund is notified."""
        existing = trade.refunds.get(out_request_no)
        if existing is not None:
            if existing.amount != amount:
                raise business_failed(
                    "ACQ.INVALID_PARAMETER", "参数无效：同一退款请求号的金额不一致"
                )
            return existing, False
        if trade.gmt_payment is None:
            raise status_error("交易状态不合法")
        if amount > trade.total - trade.refunded:
            raise business_failed("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        if len(trade.refunds) >= REFUNDS_PER_TRADE:
            raise business_failed("ACQ.REFUND_TIMES_EXCEED", "退款次数超过限制")
        refund = Refund(out_request_no=out_request_no, amount=amount, reason=reason, gmt_refund=now)
        trade.refunds[out_request_no] = refund
        if trade.refunded == trade.total:
            trade.trade_status, trade.gmt_close = CLOSED, now
        self._notify(trade, now, refund=refund)
        return refund, True

    # --- What Alipay answers and sends ---------------------------------------------------------

    def query_answer(self, trade: Trade) -> dict[str, Any]:
        paid = trade.gmt_payment is not None
        answer: dict[str, Any] = {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": BUYER_LOGON_ID,
            "trade_status": trade.trade_status,
            "total_amount": yuan(trade.total),
            "buyer_pay_amount": yuan(trade.total) if paid else "0.00",
            "receipt_amount": yuan(trade.total) if paid else "0.00",
            "buyer_user_id": BUYER_ID,
        }
        if trade.gmt_payment is not None:
            answer["send_pay_date"] = alipay_time(trade.gmt_payment)
        return answer

    def _notify(self, trade: Trade, now: datetime, *, refund: Refund | None = None) -> None:
        """Send trade_status_sync for the trade as it now stands (notify_time and the signature
        are added at each attempt)."""
        if not trade.notify_url:
            return
        values = {
            "notify_type": "trade_status_sync",
            "notify_id": f"{now.astimezone(SHANGHAI):%Y%m%d}{secrets.token_hex(14)}",
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "app_id": self.app_id,
            "auth_app_id": self.app_id,
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "seller_id": self.seller_id,
            "trade_status": trade.trade_status,
            "total_amount": yuan(trade.total),
            "subject": trade.subject,
            "gmt_create": alipay_time(trade.gmt_create),
        }
        if trade.gmt_payment is not None:
            values.update(
                buyer_id=BUYER_ID,
                buyer_logon_id=BUYER_LOGON_ID,
                receipt_amount=yuan(trade.total),
                buyer_pay_amount=yuan(trade.total),
                gmt_payment=alipay_time(trade.gmt_payment),
            )
        if refund is not None:
            values.update(
                out_biz_no=refund.out_request_no,
                refund_fee=yuan(trade.refunded),
                # Alipay writes a refund's time to the millisecond in its notifications.
                gmt_refund=refund.gmt_refund.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S.%f")[
                    :-3
                ],
            )
        if trade.gmt_close is not None:
            values["gmt_close"] = alipay_time(trade.gmt_close)
        self.notify(trade.notify_url, values)
