"""What WeChat Pay API v3 says, read into our types: an order (a transaction) as an Intent, a
notification as a WebhookMessage, and the attach field that carries our metadata with an
order. Everything read is bounded; what is not shaped as documented is ProviderEventError."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from payments.provider import Intent, ProviderEventError, WebhookMessage
from payments.wechatpay_signatures import Undecryptable, decrypt

MAX_MESSAGE_BYTES = 64 * 1024  # an answer or a notification; WeChat's are a few KiB
MAX_ID_LENGTH = 100
MAX_ATTACH_LENGTH = 128  # WeChat's limit
MAX_AMOUNT = 2**53
# The metadata we keep in attach, by the keys used when the full ones do not fit in 128.
METADATA_KEYS = {"payment_id": "p", "purpose": "u", "subject_id": "s"}
EXPIRY_KEY = "e"  # the order's time_expire in unix seconds: NOTPAY after it reads canceled
EVENT_TYPES = {
    "TRANSACTION.SUCCESS": "payment_intent.succeeded",
    "REFUND.SUCCESS": "refund.succeeded",
    "REFUND.ABNORMAL": "refund.abnormal",
    "REFUND.CLOSED": "refund.closed",
}
# What each trade_state is to us (NOTPAY past its expiry and PAYERROR are read apart).
STATUSES = {
    "SUCCESS": "succeeded",
    "REFUND": "succeeded",  # paid, then (partly) refunded: refunds are recorded on our side
    "NOTPAY": "requires_action",
    "USERPAYING": "processing",
    "CLOSED": "canceled",
    "REVOKED": "canceled",
    "PAYERROR": "requires_payment_method",
}


def bounded_text(data: Mapping[str, Any], key: str, *, limit: int, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ProviderEventError(f"{key} must be a string of 1 to {limit} characters")
    return value


def _whole(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_AMOUNT:
        raise ProviderEventError(f"{key} must be a whole number")
    return value


def attach_of(metadata: Mapping[str, str], expires_at: datetime | None) -> str:
    """Our metadata (and the expiry) as compact JSON of at most 128 characters, with short
    keys when the full ones do not fit; ValueError when even those do not."""
    expiry = {EXPIRY_KEY: int(expires_at.timestamp())} if expires_at is not None else {}
    for short in (False, True):
        kept: dict[str, Any] = {
            (METADATA_KEYS[key] if short else key): metadata[key]
            for key in METADATA_KEYS
            if key in metadata
        }
        # ASCII only, so that characters and bytes count alike.
        text = json.dumps({**kept, **expiry}, separators=(",", ":"))
        if len(text) <= MAX_ATTACH_LENGTH:
            return text
    raise ValueError("the metadata does not fit in WeChat Pay's attach (128 characters)")


def _metadata_of(attach: str) -> tuple[dict[str, str], int | None]:
    """Our metadata and the expiry from an order's attach (either spelling of the keys)."""
    if not attach:
        return {}, None
    try:
        data = json.loads(attach)
    except (ValueError, RecursionError) as exc:
        raise ProviderEventError("attach is not our JSON") from exc
    if not isinstance(data, dict):
        raise ProviderEventError("attach is not our JSON")
    metadata = {}
    for key, short in METADATA_KEYS.items():
        value = data.get(key, data.get(short))
        if value is not None:
            metadata[key] = bounded_text({key: value}, key, limit=MAX_ATTACH_LENGTH)
    expiry = data.get(EXPIRY_KEY)
    return metadata, (_whole(data, EXPIRY_KEY) if expiry is not None else None)


def intent_of_transaction(data: Mapping[str, Any], *, mchid: str, now: datetime) -> Intent:
    """The Intent of an order as WeChat Pay describes it (read back, or in a notification)."""
    if not isinstance(data, Mapping):
        raise ProviderEventError("the transaction must be a JSON object")
    if data.get("mchid", mchid) != mchid:
        raise ProviderEventError("the transaction is another merchant's")
    state = bounded_text(data, "trade_state", limit=20)
    if state not in STATUSES:
        raise ProviderEventError(f"trade_state {state[:20]!r} is not one WeChat Pay documents")
    amount = data.get("amount")
    if not isinstance(amount, Mapping):
        raise ProviderEventError("amount must be a JSON object")
    metadata, expiry = _metadata_of(
        bounded_text(data, "attach", limit=MAX_ATTACH_LENGTH, required=False)
    )
    description = bounded_text(data, "trade_state_desc", limit=300, required=False)
    status = STATUSES[state]
    error_code = error_message = None
    if state == "NOTPAY" and expiry is not None and now.timestamp() >= expiry:
        # WeChat reads an unpaid order NOTPAY until it is closed, but it cannot be paid after
        # its time_expire: it is over.
        status, error_code, error_message = "canceled", "expired", "The payment expired."
    elif state == "PAYERROR":
        error_code = "payment_intent_payment_attempt_failed"
        error_message = description or "The payment did not go through."
    return Intent(
        id=bounded_text(data, "out_trade_no", limit=32),
        status=status,
        amount=_whole(amount, "total"),
        currency="cny",
        metadata=metadata,
        error_code=error_code,
        error_message=error_message,
    )


def notification_of(payload: bytes, apiv3_key: str) -> WebhookMessage:
    """A signed notification's id, our type for its event, and its decrypted resource."""
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise ProviderEventError("the notification is not JSON") from exc
    if not isinstance(event, dict):
        raise ProviderEventError("the notification must be a JSON object")
    event_type = bounded_text(event, "event_type", limit=60)
    resource = event.get("resource")
    if not isinstance(resource, dict):
        raise ProviderEventError("resource must be a JSON object")
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise ProviderEventError("resource.algorithm must be AEAD_AES_256_GCM")
    associated = resource.get("associated_data", "")
    if not isinstance(associated, str) or len(associated) > 100:
        raise ProviderEventError("resource.associated_data must be a short string")
    nonce = bounded_text(resource, "nonce", limit=64)
    ciphertext = bounded_text(resource, "ciphertext", limit=MAX_MESSAGE_BYTES)
    try:
        plaintext = decrypt(
            apiv3_key, nonce=nonce, ciphertext=ciphertext, associated_data=associated
        )
        content = json.loads(plaintext)
    except Undecryptable as exc:
        raise ProviderEventError(
            "the resource does not decrypt with our APIv3 key (a forgery, or another key)"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise ProviderEventError("the decrypted resource is not JSON") from exc
    if not isinstance(content, dict):
        raise ProviderEventError("the decrypted resource must be a JSON object")
    return WebhookMessage(
        id=bounded_text(event, "id", limit=MAX_ID_LENGTH),
        type=EVENT_TYPES.get(event_type, f"wechatpay.{event_type.lower()}"),
        object=content,
    )
