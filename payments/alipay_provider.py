"""The Alipay open API adapter of payments.provider.PaymentProvider, for our own Alipay
application: page pay (a computer's browser) and WAP pay (a phone's browser). Its types never
leave this module, and nothing outside payments/ names it.

Alipay makes a trade only when its buyer opens the signed gateway URL, so create_intent calls
nothing: it answers requires_action with that URL, and confirm_intent only reads the trade
back. Every answer's signature is checked (payments.alipay_client); an answer that fails it
says nothing, so it is ProviderUnavailable, as a timeout is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

from payments.alipay_client import AlipayClient
from payments.alipay_messages import (
    MAX_FORM_BYTES,
    OrderNumber,
    alipay_time,
    bounded,
    bounded_text,
    fen_of,
    form_of,
    new_order_number,
    notification_intent,
    notification_of,
    order_number,
    passback_of,
    trade_intent,
    yuan,
)
from payments.alipay_signatures import BadSignature, load_private_key, load_public_key
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

MAX_SUBJECT_LENGTH = 256
MAX_RETURN_URL_LENGTH = 256  # Alipay's bound on notify_url and return_url (quit_url: 400)
# Each flow's gateway method and product code.
PAGE_METHODS: dict[str, tuple[str, str]] = {
    "page": ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
    "wap": ("alipay.trade.wap.pay", "QUICK_WAP_WAY"),
}
# Alipay's clock and ours may differ by this much: a trade is taken as over only after it.
CLOCK_SLACK = timedelta(seconds=5)
# Characters Alipay refuses in a subject, and what the buyer sees instead.
SUBJECT_SUBSTITUTES = str.maketrans({"/": "／", "=": "＝", "&": "＆"})


class AlipayProvider:
    """An Alipay open API application (or the development stand-in) reached over httpx at
    `gateway` (…/gateway.do). Requests are signed with the application's private key; answers,
    notifications and returns are checked with Alipay's public key."""

    name = "alipay"
    methods: tuple[Method, ...] = ("alipay",)
    flows: frozenset[Flow] = frozenset({"page", "wap"})
    abroad = False  # Alipay, Hangzhou: nothing leaves mainland China

    def __init__(
        self,
        *,
        gateway: str,
        app_id: str,
        app_private_key_pem: bytes,
        alipay_public_key_pem: bytes,
        notify_url: str,
    ) -> None:
        self.app_id = app_id
        self._notify_url = notify_url
        self._api = AlipayClient(
            gateway=gateway,
            app_id=app_id,
            app_private_key=load_private_key(app_private_key_pem),
            alipay_public_key=load_public_key(alipay_public_key_pem),
        )

    async def aclose(self) -> None:
        await self._api.aclose()

    def owns(self, intent_id: str) -> bool:
        return order_number(intent_id) is not None

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
        """A trade waiting for its buyer (requires_action), whose wallet action is the signed
        gateway URL of `flow` (page when None): Alipay makes the trade when the buyer opens
        it, payable until `expires_at`, and sends the browser back to `return_url`. Nothing
        is sent to Alipay here. The out_trade_no is new each time (it carries the expiry)."""
        if method != "alipay":
            raise ProviderError("method_unsupported", f"Alipay does not take {method}.")
        if expires_at is None or return_url is None:
            raise ValueError("an Alipay payment needs its expires_at and its return_url")
        out_trade_no = new_order_number(metadata.get("payment_id", ""), expires_at)
        action = self._gateway_action(
            out_trade_no,
            amount=amount,
            currency=currency,
            metadata=metadata,
            flow=flow or "page",
            description=description,
            return_url=return_url,
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
        """A freshly signed gateway URL for the same trade (same out_trade_no, amount and
        subject; its expiry is the one in the out_trade_no): Alipay refuses a stale timestamp.
        ProviderError flow_unsupported without a `return_url`."""
        order = self._order(intent_id)
        if return_url is None:
            raise ProviderError("flow_unsupported", "An Alipay URL needs its return_url.")
        if metadata.get("payment_id") != order.payment_id:
            raise ValueError("the metadata names another payment than the out_trade_no")
        return self._gateway_action(
            intent_id,
            amount=amount,
            currency=currency,
            metadata=metadata,
            flow=flow,
            description=description,
            return_url=return_url,
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
        """Nothing to confirm: the buyer opening the URL starts the trade. As Alipay has it."""
        return await self.retrieve_intent(intent_id)

    async def retrieve_intent(self, intent_id: str) -> Intent:
        """The trade as Alipay has it (alipay.trade.query). Invariant "an Alipay payment reads
        as failed only once Alipay cannot take it any more": a trade Alipay does not have yet
        (its buyer has not opened the page) waits until its time_expire, after which Alipay
        will not make it; a trade still waiting past its time_expire is closed
        (alipay.trade.close) before it is reported canceled, and a close that finds it paid
        reads it again. Both wait CLOCK_SLACK longer, for Alipay's clock."""
        order = self._order(intent_id)
        try:
            intent = await self._read(intent_id)
        except ProviderError as exc:
            if exc.code != "ACQ.TRADE_NOT_EXIST":
                raise
            if datetime.now(UTC) < order.expires_at + CLOCK_SLACK:
                return self._unmade(intent_id, order, "requires_action")
            return self._unmade(intent_id, order, "canceled")
        if intent.status != "requires_action" or datetime.now(UTC) < order.expires_at + CLOCK_SLACK:
            return intent
        try:
            await self._api.call("alipay.trade.close", {"out_trade_no": intent_id})
        except ProviderError as exc:
            if exc.code == "ACQ.TRADE_STATUS_ERROR":  # paid meanwhile
                return await self._read(intent_id)
            raise
        return replace(
            intent, status="canceled", error_code="expired", error_message="The payment expired."
        )

    async def cancel_intent(self, intent_id: str) -> Intent:
        """Close the trade (alipay.trade.close), then read it back: it reads canceled. A paid
        one raises ProviderError ACQ.TRADE_STATUS_ERROR. A trade Alipay has not made yet
        cannot be closed: it reads canceled, though its buyer could still open the old URL
        before its time_expire and pay; that is a late success, which payments fulfils or
        refunds like any other."""
        order = self._order(intent_id)
        try:
            await self._api.call("alipay.trade.close", {"out_trade_no": intent_id})
        except ProviderError as exc:
            if exc.code == "ACQ.TRADE_NOT_EXIST":
                return self._unmade(intent_id, order, "canceled")
            raise
        return await self._read(intent_id)

    async def refund(self, intent_id: str, *, amount: int, idempotency_key: str) -> str:
        """Refund `amount` of a paid trade; "succeeded" once Alipay says the money moved. The
        out_request_no is derived from the intent and `idempotency_key`, so a retry is the
        same refund, never a second one: Alipay answers it fund_change N, and its refund query
        confirms it (ProviderUnavailable if Alipay has no record of it yet)."""
        self._order(intent_id)
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
        out_request_no = f"{intent_id}r{digest}"  # at most 62 of Alipay's 64
        try:
            answer = await self._api.call(
                "alipay.trade.refund",
                {
                    "out_trade_no": intent_id,
                    "refund_amount": yuan(amount),
                    "out_request_no": out_request_no,
                },
            )
        except ProviderError as exc:
            if exc.code == "ACQ.TRADE_NOT_EXIST":
                raise ProviderError("resource_missing", exc.message, status=404) from exc
            raise
        self._check_about(answer, intent_id)
        if answer.get("fund_change") == "Y":
            return "succeeded"
        # fund_change N: nothing moved now. Alipay's guide: confirm with the refund query.
        found = await self._api.call(
            "alipay.trade.fastpay.refund.query",
            {"out_trade_no": intent_id, "out_request_no": out_request_no},
        )
        self._check_about(found, intent_id)
        try:
            refunded = fen_of(bounded_text(found, "refund_amount", limit=20))
            status = bounded_text(found, "refund_status", limit=40, required=False)
        except ProviderEventError as exc:
            raise ProviderUnavailable(f"Alipay has no record of the refund: {exc}") from exc
        if refunded != amount or status not in ("", "REFUND_SUCCESS"):
            raise ProviderUnavailable(f"Alipay's refund is {refunded} fen, {status[:40]}")
        return "succeeded"

    # -- notifications and returns ------------------------------------------------------------

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookMessage:
        """The notification in `payload` (a urlencoded form) if Alipay signed it (all but sign
        and sign_type) for our application. Its id is "alipay:" + notify_id, the same on every
        delivery of one event."""
        if len(payload) > MAX_FORM_BYTES:
            raise ProviderEventError(f"the notification is over {MAX_FORM_BYTES} bytes")
        try:
            params = form_of(payload)
            self._api.check_message(params)
        except BadSignature as exc:
            raise ProviderSignatureError(str(exc)) from exc
        except ValueError as exc:  # whatever a hostile body holds: no 500
            raise ProviderSignatureError(f"the notification cannot be read: {exc}") from exc
        if params.get("app_id") != self.app_id:
            raise ProviderEventError("the notification is another application's")
        return notification_of(params)

    def intent_of(self, message: WebhookMessage) -> Intent:
        return notification_intent(message.object, datetime.now(UTC))

    def verify_return(self, params: Mapping[str, str]) -> str:
        """The out_trade_no of a synchronous return (the buyer's browser coming back with
        Alipay's parameters) if Alipay signed it for our application; ProviderSignatureError
        otherwise. It only says which payment to ask Alipay about: never proof of payment."""
        try:
            bounded(params)
            self._api.check_message(params)
        except BadSignature as exc:
            raise ProviderSignatureError(str(exc)) from exc
        except ValueError as exc:
            raise ProviderSignatureError(f"the return cannot be read: {exc}") from exc
        out_trade_no = params.get("out_trade_no", "")
        if params.get("app_id") != self.app_id or order_number(out_trade_no) is None:
            raise ProviderSignatureError("the return is not about one of our trades")
        return out_trade_no

    # -- reading and making trades ------------------------------------------------------------

    def _order(self, intent_id: str) -> OrderNumber:
        order = order_number(intent_id)
        if order is None:
            raise ProviderError("resource_missing", "Not an Alipay trade of ours.", status=404)
        return order

    def _unmade(self, intent_id: str, order: OrderNumber, status: str) -> Intent:
        """A trade Alipay has not made: waiting for its buyer, or over. Its amount is not
        known (0): only a paid trade's amount is compared with the payment's."""
        unmade = Intent(
            id=intent_id,
            status="requires_action",
            amount=0,
            currency="cny",
            metadata={"payment_id": order.payment_id},
        )
        if status == "requires_action":
            return unmade
        if datetime.now(UTC) >= order.expires_at:
            return replace(
                unmade,
                status="canceled",
                error_code="expired",
                error_message="The payment expired.",
            )
        return replace(
            unmade,
            status="canceled",
            error_code="canceled",
            error_message="The payment was canceled.",
        )

    def _check_about(self, answer: Mapping[str, Any], intent_id: str) -> None:
        if answer.get("out_trade_no") != intent_id:
            raise ProviderUnavailable("Alipay answered about another trade")

    async def _read(self, intent_id: str) -> Intent:
        answer = await self._api.call("alipay.trade.query", {"out_trade_no": intent_id})
        self._check_about(answer, intent_id)
        try:
            return trade_intent(answer, paid_field="send_pay_date", now=datetime.now(UTC))
        except ProviderEventError as exc:
            raise ProviderUnavailable(f"Alipay's trade cannot be read: {exc}") from exc

    def _gateway_action(
        self,
        out_trade_no: str,
        *,
        amount: int,
        currency: str,
        metadata: Mapping[str, str],
        flow: Flow,
        description: str,
        return_url: str,
    ) -> WalletAction:
        if flow not in PAGE_METHODS:
            raise ProviderError("flow_unsupported", f"Alipay has no {flow} flow.")
        if currency.lower() != "cny":
            raise ValueError("Alipay takes cny only")
        if len(self._notify_url) > MAX_RETURN_URL_LENGTH:
            raise ValueError("Alipay takes a notify_url of 256 at most")
        if len(return_url) > MAX_RETURN_URL_LENGTH:
            raise ProviderError(
                "return_url_too_long",
                f"must be at most {MAX_RETURN_URL_LENGTH} characters for Alipay",
                param="return_url",
            )
        order = self._order(out_trade_no)
        method, product_code = PAGE_METHODS[flow]
        biz_content = {
            "out_trade_no": out_trade_no,
            "total_amount": yuan(amount),
            "subject": "",
            "product_code": product_code,
            "time_expire": alipay_time(order.expires_at),
            **({"quit_url": return_url} if flow == "wap" else {}),
            "passback_params": passback_of(metadata),
        }
        urls = {"notify_url": self._notify_url, "return_url": return_url}
        room = MAX_URL_LENGTH - self._api.longest_page_url(method, biz_content, **urls)
        biz_content["subject"] = _subject(description.strip() or out_trade_no, room)
        url = self._api.page_url(method, biz_content, **urls)
        if len(url) > MAX_URL_LENGTH:
            raise ValueError(f"the Alipay URL is over {MAX_URL_LENGTH} characters")
        return WalletAction(type="alipay_handle_redirect", url=url)


def _subject(description: str, room: int) -> str:
    """The trade's subject: the description without what Alipay refuses in one, cut to 256
    characters and to what fits in `room` characters of the URL (each counted as it is
    written there: in JSON, then urlencoded). ValueError when not even one fits."""
    text = " ".join(description.translate(SUBJECT_SUBSTITUTES).split())[:MAX_SUBJECT_LENGTH]
    kept = 0
    for position, character in enumerate(text):
        room -= len(quote_plus(json.dumps(character, ensure_ascii=False)[1:-1]))
        if room < 0:
            break
        kept = position + 1
    if kept == 0:
        raise ValueError("the return_url leaves no room in the Alipay URL for a subject")
    return text[:kept]
