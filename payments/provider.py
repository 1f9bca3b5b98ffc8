"""The thin wrapper around the stripe SDK: its types and exceptions never leave this module."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import stripe

# Every provider call answers within this time, so a buyer hears "try again" within seconds.
PROVIDER_TIMEOUT = httpx.Timeout(6.0, connect=2.0)
WEBHOOK_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class Intent:
    """What we need of a Stripe PaymentIntent."""

    id: str
    status: str
    amount: int
    currency: str
    client_secret: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class WebhookMessage:
    """A verified webhook event: its id, type and the object it is about."""

    id: str
    type: str
    object: dict[str, Any]


class ProviderError(Exception):
    """The provider refused the request (a bad payment method id, a missing intent, ...)."""

    def __init__(self, code: str, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


class ProviderDeclined(ProviderError):
    """The card was declined; `intent_id` names the intent when the provider made one."""

    def __init__(self, code: str, message: str, *, intent_id: str | None = None) -> None:
        super().__init__(code, message)
        self.intent_id = intent_id


class ProviderUnavailable(Exception):
    """The provider did not answer in time, or answered with a server error."""


class ProviderSignatureError(Exception):
    """A webhook's Stripe-Signature is missing, malformed, stale or wrong."""


def _intent(obj: Any) -> Intent:
    data = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    error = data.get("last_payment_error") or {}
    return Intent(
        id=str(data["id"]),
        status=str(data["status"]),
        amount=int(data.get("amount") or 0),
        currency=str(data.get("currency") or ""),
        client_secret=data.get("client_secret"),
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        error_code=error.get("code") if isinstance(error, dict) else None,
        error_message=error.get("message") if isinstance(error, dict) else None,
    )


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
    )


class StripeProvider:
    """A Stripe-compatible API reached over httpx, asynchronously."""

    def __init__(self, *, api_base: str, secret_key: str, webhook_secret: str) -> None:
        self.api_base = api_base
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
        payment_method: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> Intent:
        """An unconfirmed PaymentIntent: nothing is charged until confirm_intent."""
        params: Any = {
            "amount": amount,
            "currency": currency,
            "payment_method": payment_method,
            "metadata": metadata,
        }
        obj = await self._call(
            self._client.v1.payment_intents.create_async,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return _intent(obj)

    async def confirm_intent(self, intent_id: str, *, idempotency_key: str) -> Intent:
        obj = await self._call(
            self._client.v1.payment_intents.confirm_async,
            intent_id,
            options={"idempotency_key": idempotency_key},
        )
        return _intent(obj)

    async def retrieve_intent(self, intent_id: str) -> Intent:
        return _intent(await self._call(self._client.v1.payment_intents.retrieve_async, intent_id))

    async def cancel_intent(self, intent_id: str) -> Intent:
        return _intent(await self._call(self._client.v1.payment_intents.cancel_async, intent_id))

    async def refund(self, intent_id: str, *, amount: int, idempotency_key: str) -> str:
        """Refund part or all of a succeeded intent; returns the refund's status."""
        params: Any = {"payment_intent": intent_id, "amount": amount}
        obj = await self._call(
            self._client.v1.refunds.create_async,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return str(obj.to_dict().get("status", "succeeded"))

    def verify_webhook(self, payload: bytes, signature: str | None) -> WebhookMessage:
        """The event, if `signature` is a valid Stripe-Signature of `payload` for our secret."""
        if not signature:
            raise ProviderSignatureError("missing Stripe-Signature header")
        try:
            text = payload.decode("utf-8")
            stripe.WebhookSignature.verify_header(
                text, signature, self._webhook_secret, WEBHOOK_TOLERANCE_SECONDS
            )
            event = json.loads(text)
            return WebhookMessage(
                id=str(event["id"]),
                type=str(event["type"]),
                object=dict(event["data"]["object"]),
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
            raise ProviderSignatureError(str(exc)) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderSignatureError(f"malformed event: {exc}") from exc


def intent_from_webhook(message: WebhookMessage) -> Intent:
    return _intent(message.object)
