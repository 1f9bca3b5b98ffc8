"""What Alipay's open API says, read into our types: amounts (yuan text <-> fen), our
out_trade_no and the expiry it carries, a trade (read back or notified) as an Intent, and a
notification's form as a WebhookMessage. Everything read is bounded; what is not shaped as
documented is ProviderEventError."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode

from payments.provider import Intent, ProviderEventError, WebhookMessage

CHINA = timezone(timedelta(hours=8))  # Asia/Shanghai: no summer time since 1991
MAX_MESSAGE_BYTES = 64 * 1024  # an API answer; Alipay's are a few KiB
MAX_FORM_BYTES = 16 * 1024  # a notification's body: about 1.5 KiB in practice
MAX_FORM_FIELDS = 60  # a notification has about 30
MAX_VALUE_LENGTH = 2048  # a subject is 256 characters, passback_params 512, a sign 344
MAX_PASSBACK_LENGTH = 512  # Alipay's limit on passback_params
MAX_AMOUNT_FEN = 100_000_000_00  # Alipay's largest total_amount, 100000000.00 yuan
# Our out_trade_no: "ali" + payment id + "e" + time_expire (UTC, YYMMDDHHMMSS) + "x" + 8
# random hex (unique across databases sharing one Alipay application); at most 45 of
# Alipay's 64 characters of [A-Za-z0-9_]. The expiry in it says when an order Alipay has never
# seen (its buyer never opened the page) can no longer be made.
OUT_TRADE_NO = re.compile(r"^ali([0-9A-Za-z]{1,20})e([0-9]{12})x([0-9a-f]{8})$")
PAYMENT_ID = re.compile(r"^[0-9A-Za-z]{1,20}$")
YUAN = re.compile(r"^(0|[1-9][0-9]{0,8})(?:\.([0-9]{1,2}))?$")
METADATA_KEYS = ("payment_id", "purpose", "subject_id")
PAID = ("TRADE_SUCCESS", "TRADE_FINISHED")
TRADE_STATUSES = ("WAIT_BUYER_PAY", "TRADE_CLOSED", *PAID)


def yuan(fen: int) -> str:
    """An amount of fen as Alipay's yuan text, two decimals, exactly: 1234 -> "12.34"."""
    if not isinstance(fen, int) or isinstance(fen, bool) or not 0 < fen <= MAX_AMOUNT_FEN:
        raise ValueError("an amount is 1 to 10000000000 fen")
    return f"{fen // 100}.{fen % 100:02d}"


def fen_of(text: str) -> int:
    """Alipay's yuan text as fen, exactly (no float on the way): "12.3" -> 1230."""
    found = YUAN.match(text)
    if found is None:
        raise ProviderEventError(f"{text[:20]!r} is not an amount in yuan")
    fen = int(found[1]) * 100 + int((found[2] or "").ljust(2, "0"))
    if fen > MAX_AMOUNT_FEN:
        raise ProviderEventError("the amount is over 100000000.00 yuan")
    return fen


def alipay_time(moment: datetime) -> str:
    """A moment as Alipay writes one: "YYYY-MM-DD HH:MM:SS" in Asia/Shanghai."""
    if moment.tzinfo is None:
        raise ValueError("a moment must be timezone-aware")
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class OrderNumber:
    """What our out_trade_no says: whose payment it is and when Alipay stops taking it."""

    payment_id: str
    expires_at: datetime


def new_order_number(payment_id: str, expires_at: datetime) -> str:
    """A fresh out_trade_no for `payment_id`, payable until `expires_at` (to the second)."""
    if not PAYMENT_ID.match(payment_id):
        raise ValueError("metadata needs a payment_id of 1 to 20 letters or digits")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    stamp = expires_at.astimezone(UTC).strftime("%y%m%d%H%M%S")
    return f"ali{payment_id}e{stamp}x{secrets.token_hex(4)}"


def order_number(out_trade_no: str) -> OrderNumber | None:
    """Our out_trade_no read back; None if it is not shaped as ours."""
    found = OUT_TRADE_NO.match(out_trade_no)
    if found is None:
        return None
    year, month, day, hour, minute, second = (int(found[2][at : at + 2]) for at in range(0, 12, 2))
    try:
        expires_at = datetime(2000 + year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    return OrderNumber(payment_id=found[1], expires_at=expires_at)


def passback_of(metadata: Mapping[str, str]) -> str:
    """Our metadata as passback_params (Alipay hands it back in notifications as sent)."""
    text = urlencode({key: metadata[key] for key in METADATA_KEYS if key in metadata})
    if len(text) > MAX_PASSBACK_LENGTH:
        raise ValueError("the metadata does not fit in Alipay's passback_params (512)")
    return text


def bounded_text(data: Mapping[str, Any], key: str, *, limit: int, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value) or len(value) > limit:
        raise ProviderEventError(f"{key} must be a string of 1 to {limit} characters")
    return value


def _metadata_of(order: OrderNumber, passback: str) -> dict[str, str]:
    if not passback:
        return {"payment_id": order.payment_id}
    try:
        pairs = parse_qsl(passback, keep_blank_values=True, max_num_fields=10, errors="strict")
    except ValueError as exc:
        raise ProviderEventError("passback_params is not our metadata") from exc
    metadata = {key: value for key, value in pairs if key in METADATA_KEYS}
    if metadata.get("payment_id") != order.payment_id:
        raise ProviderEventError("passback_params names another payment than out_trade_no")
    return metadata


def trade_intent(
    data: Mapping[str, Any], *, paid_field: str, now: datetime, passback: str = ""
) -> Intent:
    """The Intent of a trade as Alipay describes it: an answer of alipay.trade.query (paid once
    it has send_pay_date) or a notification (paid once it has gmt_payment). A closed trade
    that was paid was refunded in full: it reads succeeded (refunds are recorded on our side,
    as with Stripe); one never paid reads canceled, "expired" past its time_expire."""
    out_trade_no = bounded_text(data, "out_trade_no", limit=64)
    order = order_number(out_trade_no)
    if order is None:
        raise ProviderEventError("out_trade_no is not one of ours")
    status_text = bounded_text(data, "trade_status", limit=32)
    if status_text not in TRADE_STATUSES:
        raise ProviderEventError(f"trade_status {status_text!r} is not one Alipay documents")
    amount = fen_of(bounded_text(data, "total_amount", limit=20))
    paid = bool(bounded_text(data, paid_field, limit=40, required=False))
    error_code = error_message = None
    if status_text in PAID or (status_text == "TRADE_CLOSED" and paid):
        status = "succeeded"
    elif status_text == "WAIT_BUYER_PAY":
        status = "requires_action"
    elif now >= order.expires_at:
        status, error_code, error_message = "canceled", "expired", "The payment expired."
    else:
        status, error_code, error_message = "canceled", "canceled", "The payment was canceled."
    return Intent(
        id=out_trade_no,
        status=status,
        amount=amount,
        currency="cny",
        metadata=_metadata_of(order, passback),
        error_code=error_code,
        error_message=error_message,
    )


def form_of(payload: bytes) -> dict[str, str]:
    """A notification's urlencoded form (UTF-8), every name once, every value bounded;
    ValueError if it is not one."""
    if len(payload) > MAX_FORM_BYTES:
        raise ValueError(f"the form is over {MAX_FORM_BYTES} bytes")
    pairs = parse_qsl(
        payload.decode("utf-8"),
        keep_blank_values=True,
        strict_parsing=True,
        max_num_fields=MAX_FORM_FIELDS,
        errors="strict",
    )
    form = dict(pairs)
    if len(form) != len(pairs):
        raise ValueError("a field is given twice")  # which one would the signature cover?
    bounded(form)
    return form


def bounded(params: Mapping[str, str]) -> None:
    """ValueError unless `params` is a few fields of bounded length."""
    if len(params) > MAX_FORM_FIELDS:
        raise ValueError(f"over {MAX_FORM_FIELDS} fields")
    for key, value in params.items():
        if len(key) > 64 or len(value) > MAX_VALUE_LENGTH:
            raise ValueError(f"a field is longer than {MAX_VALUE_LENGTH}")


def event_type(params: Mapping[str, str]) -> str:
    """Our name for what a notification reports: a payment, a close of an unpaid trade, a
    refund (it names its out_biz_no or refund_fee), or else alipay.<trade_status>."""
    status = bounded_text(params, "trade_status", limit=32)
    if params.get("out_biz_no") or params.get("refund_fee"):
        return "refund.succeeded"
    if status in PAID:
        return "payment_intent.succeeded"
    if status == "TRADE_CLOSED" and not params.get("gmt_payment"):
        return "payment_intent.canceled"
    return f"alipay.{status.lower()}"


def notification_of(params: Mapping[str, str]) -> WebhookMessage:
    """A verified notification as our WebhookMessage; its object is its parameters."""
    notify_id = bounded_text(params, "notify_id", limit=128)
    return WebhookMessage(id=f"alipay:{notify_id}", type=event_type(params), object=dict(params))


def notification_intent(params: Mapping[str, Any], now: datetime) -> Intent:
    """The payment a notification is about, with our metadata from passback_params."""
    passback = bounded_text(params, "passback_params", limit=MAX_PASSBACK_LENGTH, required=False)
    return trade_intent(params, paid_field="gmt_payment", now=now, passback=passback)
