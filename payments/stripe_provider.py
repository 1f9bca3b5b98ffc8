"""The Stripe adapter of payments.provider.PaymentProvider: the thin wrapper around the stripe
SDK. Its types and exceptions never leave this module, and nothing outside payments/ names it.

Stripe takes WeChat Pay's `native` flow only (its `web` client: a QR code) and Alipay's `page`
and `wap` (both a redirect); WeChat Pay's `h5` and `jsapi` need a direct WeChat Pay merchant.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import stripe
from stripe.params import (
    PaymentIntentConfirmParams,
    PaymentIntentCreateParams,
    RefundCreateParams,
)

from payments.provider import (
    FLOWS,
    MAX_URL_LENGTH,
    PROVIDER_TIMEOUT,
    WALLETS,
    Flow,
    Intent,
    Method,
    Payer,
    ProviderDeclined,
    ProviderError,
    ProviderEventError,
    ProviderSignatureError,
    ProviderUnavailable,
    WalletAction,
    WebhookMessage,
)

WEBHOOK_TOLERANCE_SECONDS = 300
STRIPE_FLOWS: frozenset[Flow] = frozenset({"card", "native", "page", "wap"})


MAX_ID_LENGTH = 100  # Stripe's ids are far shorter; anything longer is not one of theirs
MAX_TEXT_LENGTH = 500


def _text(data: dict[str, Any], key: str, *, required: bool, limit: int = MAX_TEXT_LENGTH) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ProviderEventError(f"{key} must be a string of 1 to {limit} characters")
    return value


def _intent(obj: Any) -> Intent:
    """An Intent from the provider's object (an SDK object, or a webhook's plain dict).

    Raises ProviderEventError when a field has the wrong type or size, so a malformed signed
    event is refused with a 400 instead of failing somewhere later."""
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    if not isinstance(data, dict):
        raise ProviderEventError("the object must be a JSON object")
    amount = data.get("amount") or 0
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 <= amount < 2**63:
        raise ProviderEventError("amount must be a whole number")
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict) or len(metadata) > 50:
        raise ProviderEventError("metadata must be an object")
    error = data.get("last_payment_error") or {}
    if not isinstance(error, dict):
        error = {}
    client_secret = data.get("client_secret")
    return Intent(
        wallet_action=_wallet_action(data.get("next_action")),
        id=_text(data, "id", required=True, limit=MAX_ID_LENGTH),
        status=_text(data, "status", required=True, limit=40),
        amount=amount,
        currency=_text(data, "currency", required=False, limit=3),
        client_secret=client_secret if isinstance(client_secret, str) else None,
        metadata={str(k)[:40]: str(v)[:MAX_TEXT_LENGTH] for k, v in metadata.items()},
        error_code=_text(error, "code", required=False, limit=60) or None,
        error_message=_text(error, "message", required=False, limit=300) or None,
    )


def _url(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        return None
    if len(value) > MAX_URL_LENGTH or not value.startswith(("https://", "http://")):
        raise ProviderEventError(f"{key} must be an http(s) URL of at most {MAX_URL_LENGTH}")
    return value


def _wallet_action(next_action: Any) -> WalletAction | None:
    """A wallet's next action (WeChat Pay's QR code, Alipay's redirect); None for any other
    (3-D Secure's is handled by Stripe.js with the client secret)."""
    if not isinstance(next_action, dict):
        return None
    kind = next_action.get("type")
    details = next_action.get(kind) if isinstance(kind, str) else None
    if not isinstance(details, dict):
        return None
    if kind == "wechat_pay_display_qr_code":
        data = details.get("data")
        if not isinstance(data, str) or not 0 < len(data) <= MAX_URL_LENGTH:
            raise ProviderEventError("the QR code's data must be a string")
        return WalletAction(
            type=kind,
            qr_data=data,
            hosted_instructions_url=_url(details, "hosted_instructions_url"),
        )
    if kind == "alipay_handle_redirect":
        url = _url(details, "url")
        if url is None:
            raise ProviderEventError("Alipay's redirect needs a url")
        return WalletAction(type=kind, url=url)
    return None


def _translate(exc: stripe.StripeError) -> Exception:
    if isinstance(exc, stripe.CardError):
        intent_id = None
        error = getattr(exc, "error", None)
        if error is not None and getattr(error, "payment_intent", None) is not None:
            intent_id = error.payment_intent.id
        return ProviderDeclined(
            exc.code or "card_declined",
            exc.user_message or "The card was declined.",
            intent_id=intent_id,
        )
    if isinstance(exc, stripe.APIConnectionError | stripe.APIError | stripe.RateLimitError):
        return ProviderUnavailable(str(exc.user_message or exc))
    if exc.http_status is not None and exc.http_status >= 500:
        return ProviderUnavailable(str(exc.user_message or exc))
    param = getattr(exc, "param", None)
    return ProviderError(
        exc.code or "provider_error",
        str(exc.user_message or "The payment was refused."),
        param=param,
        status=exc.http_status,
    )


class StripeProvider:
    """A Stripe-compatible API reached over httpx, asynchronously."""

    def __init__(
        self,
        *,
        api_base: str,
        secret_key: str,
        webhook_secret: str,
        methods: tuple[Method, ...] = ("card", *WALLETS),
    ) -> None:
        self.name = "stripe"
        self.api_base = api_base
        self.methods = methods  # what the account takes, in the order checkout offers them
        self.flows = STRIPE_FLOWS
        self.abroad = True  # Stripe, Inc. (United States): PIPL art. 39
        self._webhook_secret = webhook_secret
        self._http = stripe.HTTPXClient(timeout=PROVIDER_TIMEOUT)
        self._client = stripe.StripeClient(
            secret_key,
            http_client=self._http,
            base_addresses={"api": api_base},
            max_network_retries=0,
        )

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    def owns(self, intent_id: str) -> bool:
        return intent_id.startswith("pi_")

    def intent_of(self, message: WebhookMessage) -> Intent:
        return intent_from_webhook(message)

    async def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc

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
        """An unconfirmed PaymentIntent: nothing is charged until confirm_intent. A card pays
        with `payment_method` (pm_...); a wallet's PaymentMethod is made by Stripe. The flow
        is chosen when it is confirmed; Stripe keeps no expiry of its own (reconciliation
        cancels what waits too long)."""
        params: PaymentIntentCreateParams = {
            "amount": amount,
            "currency": currency,
            "metadata": metadata,
            "allowed_payment_method_types": [method],
        }
        if method == "card":
            if payment_method is None:
                raise ValueError("a card payment needs its PaymentMethod id")
            params["payment_method"] = payment_method
        elif method == "wechat_pay":
            params["payment_method_data"] = {"type": "wechat_pay", "wechat_pay": {}}
        else:
            params["payment_method_data"] = {"type": "alipay", "alipay": {}}
        obj = await self._call(
            self._client.v1.payment_intents.create_async,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return _intent(obj)

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
        """Confirm an intent. WeChat Pay's answer carries the QR code to show on a web page;
        Alipay's the redirect, which comes back to `return_url`."""
        flow = flow or FLOWS[method][0]
        if flow not in FLOWS[method] or flow not in STRIPE_FLOWS:
            raise ProviderError(
                "flow_unsupported", f"Stripe does not take {method} in the {flow} flow."
            )
        params: PaymentIntentConfirmParams = {}
        if method == "wechat_pay":
            params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
        elif method == "alipay":
            if return_url is None:
                raise ValueError("an Alipay payment needs its return_url")
            params["return_url"] = return_url
        obj = await self._call(
            self._client.v1.payment_intents.confirm_async,
            intent_id,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return _intent(obj)

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
        """Stripe's next actions last as long as the intent: nothing to refresh."""
        raise ProviderError("flow_unsupported", "Stripe's next actions need no refreshing.")

    async def retrieve_intent(self, intent_id: str) -> Intent:
        return _intent(await self._call(self._client.v1.payment_intents.retrieve_async, intent_id))

    async def cancel_intent(self, intent_id: str) -> Intent:
        return _intent(await self._call(self._client.v1.payment_intents.cancel_async, intent_id))

    async def refund(self, intent_id: str, *, amount: int, idempotency_key: str) -> str:
        """Refund part or all of a succeeded intent; returns the refund's status."""
        params: RefundCreateParams = {"payment_intent": intent_id, "amount": amount}
        obj = await self._call(
            self._client.v1.refunds.create_async,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return str(obj.to_dict().get("status", "succeeded"))

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookMessage:
        """The event, if its Stripe-Signature header is a valid signature of `payload` for our
        secret."""
        signature = headers.get("stripe-signature")
        if not signature:
            raise ProviderSignatureError("missing Stripe-Signature header")
        try:
            text = payload.decode("utf-8")
            stripe.WebhookSignature.verify_header(
                text, signature, self._webhook_secret, WEBHOOK_TOLERANCE_SECONDS
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
            raise ProviderSignatureError(str(exc)[:200]) from exc
        return _webhook_message(text)


def _webhook_message(text: str) -> WebhookMessage:
    """A signed event's id, type and object; ProviderEventError if it is not shaped as one."""
    try:
        event = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProviderEventError("the event is not JSON") from exc
    if not isinstance(event, dict):
        raise ProviderEventError("the event must be a JSON object")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise ProviderEventError("data.object must be a JSON object")
    return WebhookMessage(
        id=_text(event, "id", required=True, limit=MAX_ID_LENGTH),
        type=_text(event, "type", required=True, limit=80),
        object=data["object"],
    )


def intent_from_webhook(message: WebhookMessage) -> Intent:
    """The PaymentIntent a payment_intent.* event is about; ProviderEventError if malformed."""
    return _intent(message.object)
