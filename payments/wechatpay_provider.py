"""The WeChat Pay API v3 adapter of payments.provider.PaymentProvider, for a direct WeChat Pay
merchant: Native (a QR code), H5 (a phone's browser opens WeChat) and JSAPI (inside WeChat).
Its types never leave this module, and nothing outside payments/ names it.

Placing the order is the payment's start (create_intent answers requires_action with the
wallet's next action), so confirm_intent only reads it back. Every answer's signature is
checked (payments.wechatpay_client); an answer that fails it says nothing, so it is
ProviderUnavailable, as a timeout is.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from payments.provider import (
    MAX_URL_LENGTH,
    Flow,
    Intent,
    Method,
    Payer,
    ProviderError,
    ProviderEventError,
    ProviderSignatureError,
    ProviderUnavailable,
    WalletAction,
    WebhookMessage,
)
from payments.wechatpay_client import WechatPayClient
from payments.wechatpay_messages import (
    MAX_MESSAGE_BYTES,
    attach_of,
    bounded_text,
    intent_of_transaction,
    notification_of,
)
from payments.wechatpay_signatures import BadSignature, jsapi_parameters, load_private_key

CHINA = timezone(timedelta(hours=8))
# Our out_trade_no: "wxp" + payment id + "x" + 8 random hex (unique across databases sharing
# one merchant account); WeChat takes 6 to 32 of [0-9A-Za-z_-|*].
OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
PAYMENT_ID = re.compile(r"^[0-9A-Za-z]{1,20}$")
MAX_DESCRIPTION_LENGTH = 127
# Where each flow's order is placed, and the field of the answer that the buyer needs.
ORDER_ENDPOINTS: dict[str, tuple[str, str]] = {
    "native": ("/v3/pay/transactions/native", "code_url"),
    "h5": ("/v3/pay/transactions/h5", "h5_url"),
    "jsapi": ("/v3/pay/transactions/jsapi", "prepay_id"),
}
PREPAY_ID = re.compile(r"^[0-9A-Za-z_\-]{1,64}$")


def wechat_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    return moment.astimezone(CHINA).replace(microsecond=0).isoformat()


class WechatPayProvider:
    """A WeChat Pay API v3 merchant (or the development stand-in) reached over httpx. With
    `public_key` (its id PUB_KEY_ID_..., its PEM) answers are checked with WeChat Pay's public
    key; without, with the platform certificates downloaded from /v3/certificates."""

    def __init__(
        self,
        *,
        api_base: str,
        mchid: str,
        appid: str,
        merchant_serial: str,
        private_key_pem: bytes,
        apiv3_key: str,
        notify_url: str,
        public_key: tuple[str, bytes] | None,
    ) -> None:
        if len(apiv3_key.encode()) != 32:
            raise ValueError("the APIv3 key is 32 bytes")
        self.name = "wechatpay"
        self.methods: tuple[Method, ...] = ("wechat_pay",)
        self.flows: frozenset[Flow] = frozenset({"native", "h5", "jsapi"})
        self.abroad = False  # Tenpay, Shenzhen: nothing leaves mainland China
        self.mchid = mchid
        self.appid = appid
        self._key = load_private_key(private_key_pem)
        self._apiv3_key = apiv3_key
        self._notify_url = notify_url
        self._api = WechatPayClient(
            api_base=api_base,
            mchid=mchid,
            merchant_serial=merchant_serial,
            merchant_key=self._key,
            apiv3_key=apiv3_key,
            public_key=public_key,
        )

    async def aclose(self) -> None:
        await self._api.aclose()

    def owns(self, intent_id: str) -> bool:
        return intent_id.startswith("wxp")

    # -- payments -----------------------------------------------------------------------------

    async def create_intent(
        self,
        *,
        amount: int,
        currency: str,
        method: Method = "card",
        payment_method: str | None = None,
        metadata: dict[str, str],
        idempotency_key: str,
        flow: Flow | None = None,
        payer: Payer | None = None,
        expires_at: datetime | None = None,
        description: str = "",
        return_url: str | None = None,
    ) -> Intent:
        """Place the order in `flow` (native when None): it waits for its buyer at once
        (requires_action, with the QR code, the h5_url or the JSAPI parameters), payable until
        `expires_at`. The out_trade_no is new each time: WeChat keeps no idempotency key, and
        a placing that timed out leaves an order no buyer was shown, which expires unpaid."""
        if method != "wechat_pay":
            raise ProviderError("method_unsupported", f"WeChat Pay does not take {method}.")
        payment_id = metadata.get("payment_id", "")
        if not PAYMENT_ID.match(payment_id):
            raise ValueError("metadata needs a payment_id of 1 to 20 letters or digits")
        out_trade_no = f"wxp{payment_id}x{secrets.token_hex(4)}"
        action = await self._place(
            out_trade_no,
            amount=amount,
            currency=currency,
            metadata=metadata,
            flow=flow or "native",
            payer=payer,
            expires_at=expires_at,
            description=description,
        )
        return Intent(
            id=out_trade_no,
            status="requires_action",
            amount=amount,
            currency="cny",
            metadata=dict(metadata),
            wallet_action=action,
        )

    async def refresh_action(
        self,
        intent_id: str,
        *,
        amount: int,
        currency: str,
        metadata: dict[str, str],
        flow: Flow,
        payer: Payer | None,
        expires_at: datetime | None,
        description: str,
        return_url: str | None = None,
    ) -> WalletAction:
        """The order placed again with the same out_trade_no and parameters: WeChat answers a
        fresh code_url, h5_url (each lives five minutes) or prepay_id."""
        self._check_id(intent_id)
        return await self._place(
            intent_id,
            amount=amount,
            currency=currency,
            metadata=metadata,
            flow=flow,
            payer=payer,
            expires_at=expires_at,
            description=description,
        )

    async def confirm_intent(
        self,
        intent_id: str,
        *,
        idempotency_key: str,
        method: Method = "card",
        flow: Flow | None = None,
        return_url: str | None = None,
        payer: Payer | None = None,
    ) -> Intent:
        """Nothing to confirm: placing the order started it. The order as WeChat has it."""
        return await self.retrieve_intent(intent_id)

    async def retrieve_intent(self, intent_id: str) -> Intent:
        """The order as WeChat has it. Invariant "a WeChat Pay order reads as failed only once
        WeChat closed it": an order past its time_expire, or whose payer's attempt failed
        (PAYERROR), could still be paid (a payer at the edge of the expiry by WeChat's clock,
        a payer trying again), so it is closed before it is reported over; a close WeChat
        refuses (too soon after placing it) leaves it waiting, and a close that finds it paid
        reads it again."""
        intent = await self._read(intent_id)
        if (
            intent.status not in ("canceled", "requires_payment_method")
            or intent.error_code is None
        ):
            return intent
        try:
            await self._close(intent_id)
        except ProviderError as exc:
            if exc.code == "ORDERPAID":
                return await self._read(intent_id)
            if exc.code == "close_refused":
                return replace(
                    intent, status="requires_action", error_code=None, error_message=None
                )
            raise
        return intent

    async def _read(self, intent_id: str) -> Intent:
        self._check_id(intent_id)
        try:
            data = await self._api.call(
                "GET", f"/v3/pay/transactions/out-trade-no/{intent_id}?mchid={self.mchid}"
            )
        except ProviderError as exc:
            if exc.code == "ORDER_NOT_EXIST":
                raise ProviderError("resource_missing", exc.message, status=404) from exc
            raise
        try:
            intent = intent_of_transaction(data, mchid=self.mchid, now=datetime.now(UTC))
        except ProviderEventError as exc:
            raise ProviderUnavailable(f"WeChat Pay's order cannot be read: {exc}") from exc
        if intent.id != intent_id:
            raise ProviderUnavailable("WeChat Pay answered about another order")
        return intent

    async def cancel_intent(self, intent_id: str) -> Intent:
        """Close the order, then read it back (a closed order reads canceled). An order WeChat
        never had is canceled already; a paid one raises ProviderError (ORDERPAID), as does a
        close WeChat refuses (close_refused: it advises not closing within five minutes of the
        order; it cannot be paid after its time_expire anyway, and then reads canceled)."""
        self._check_id(intent_id)
        try:
            await self._close(intent_id)
        except ProviderError as exc:
            if exc.code == "ORDER_NOT_EXIST":
                return Intent(id=intent_id, status="canceled", amount=0, currency="cny")
            raise
        return await self._read(intent_id)

    async def _close(self, intent_id: str) -> None:
        """POST close; ProviderError close_refused when WeChat will not close it yet."""
        try:
            await self._api.call(
                "POST",
                f"/v3/pay/transactions/out-trade-no/{intent_id}/close",
                {"mchid": self.mchid},
            )
        except ProviderError as exc:
            if exc.code == "INVALID_REQUEST":
                raise ProviderError("close_refused", exc.message, status=exc.status) from exc
            raise

    async def refund(self, intent_id: str, *, amount: int, idempotency_key: str) -> str:
        """Refund `amount` of a paid order; returns the refund's status, lower case
        ("processing", then "success"). The out_refund_no is derived from the intent and
        `idempotency_key`, so a retry is the same refund, never a second one."""
        order = await self._read(intent_id)
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
        data = await self._api.call(
            "POST",
            "/v3/refund/domestic/refunds",
            {
                "out_trade_no": intent_id,
                "out_refund_no": f"{intent_id}r{digest}",
                "notify_url": self._notify_url,
                "amount": {"refund": amount, "total": order.amount, "currency": "CNY"},
            },
        )
        try:
            return bounded_text(data, "status", limit=20).lower()
        except ProviderEventError as exc:
            raise ProviderUnavailable(f"WeChat Pay's refund cannot be read: {exc}") from exc

    # -- notifications ------------------------------------------------------------------------

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookMessage:
        """The notification in `payload` if WeChat Pay signed it (Wechatpay-* headers, within
        five minutes of now), its resource decrypted with the APIv3 key. A serial we do not
        know yet (certificate mode, a rotation) starts a fetch of the certificates and is
        refused meanwhile: WeChat delivers the notification again."""
        if len(payload) > MAX_MESSAGE_BYTES:
            raise ProviderEventError(f"the notification is over {MAX_MESSAGE_BYTES} bytes")
        try:
            self._api.check_notification(payload, headers)
        except BadSignature as exc:
            raise ProviderSignatureError(str(exc)) from exc
        except (ValueError, UnicodeError) as exc:  # whatever a hostile header holds: no 500
            raise ProviderSignatureError(f"the signature headers cannot be read: {exc}") from exc
        try:
            return notification_of(payload, self._apiv3_key)
        except ProviderEventError:
            raise
        except (ValueError, UnicodeError, RecursionError) as exc:
            raise ProviderEventError(f"the notification cannot be read: {exc}") from exc

    def intent_of(self, message: WebhookMessage) -> Intent:
        return intent_of_transaction(message.object, mchid=self.mchid, now=datetime.now(UTC))

    # -- placing orders -----------------------------------------------------------------------

    def _check_id(self, intent_id: str) -> None:
        if not OUT_TRADE_NO.match(intent_id):
            raise ProviderError("resource_missing", "Not a WeChat Pay order number.", status=404)

    async def _place(
        self,
        out_trade_no: str,
        *,
        amount: int,
        currency: str,
        metadata: Mapping[str, str],
        flow: Flow,
        payer: Payer | None,
        expires_at: datetime | None,
        description: str,
    ) -> WalletAction:
        if flow not in ORDER_ENDPOINTS:
            raise ProviderError("flow_unsupported", f"WeChat Pay has no {flow} flow.")
        if currency.lower() != "cny":
            raise ValueError("WeChat Pay takes cny only")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError("amount must be a positive number of fen")
        body: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": (description or out_trade_no)[:MAX_DESCRIPTION_LENGTH],
            "out_trade_no": out_trade_no,
            "attach": attach_of(metadata, expires_at),
            "notify_url": self._notify_url,
            "amount": {"total": amount, "currency": "CNY"},
        }
        if expires_at is not None:
            body["time_expire"] = wechat_time(expires_at)
        payer = payer or Payer()
        if flow == "h5":
            # The address the buyer's request came from (ValueError if it is not one).
            ipaddress.ip_address(payer.address or "")
            body["scene_info"] = {"payer_client_ip": payer.address, "h5_info": {"type": "Wap"}}
        if flow == "jsapi":
            if not payer.openid or len(payer.openid) > 128:
                raise ValueError("the jsapi flow needs the payer's openid")
            body["payer"] = {"openid": payer.openid}
        path, field = ORDER_ENDPOINTS[flow]
        data = await self._api.call("POST", path, body)
        try:
            return self._wallet_action(flow, bounded_text(data, field, limit=MAX_URL_LENGTH))
        except ProviderEventError as exc:
            raise ProviderUnavailable(f"WeChat Pay's answer cannot be used: {exc}") from exc

    def _wallet_action(self, flow: str, value: str) -> WalletAction:
        if flow == "native":
            if not value.startswith("weixin://"):
                raise ProviderEventError("code_url is not a weixin:// URL")
            return WalletAction(type="wechat_pay_display_qr_code", qr_data=value)
        if flow == "h5":
            if not value.startswith(("https://", "http://")):
                raise ProviderEventError("h5_url is not an http(s) URL")
            return WalletAction(type="wechat_pay_h5", url=value)
        if not PREPAY_ID.match(value):
            raise ProviderEventError("prepay_id is not one")
        jsapi = jsapi_parameters(self._key, appid=self.appid, prepay_id=value)
        return WalletAction(type="wechat_pay_jsapi", jsapi=jsapi)
