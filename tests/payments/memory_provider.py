"""A second implementation of payments.provider.PaymentProvider, in memory, for the tests.

It keeps its payments in a dict and answers as it is told: `pays` (every payment succeeds when
confirmed), `declines` (the payer's bank refuses every one), `late` (the payment succeeds
at the provider, but while `answering` is False no answer reaches us: the confirm and every
read-back time out, as a provider that is slow or cut off) or `asks` (the payer's bank asks
for 3-D Secure: the payment waits until a test plays the payer with `authenticate`, `retry`
or the provider's own `expire`). Its notifications are signed with
an HMAC of its own (X-Memory-Signature), so a forged one is refused as a real provider's is.
What it does not imitate: 3-D Secure, wallets' QR codes and redirects (a wallet payment is
decided at confirm, like a card), partial captures, disputes.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from payments.provider import (
    FLOWS,
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

Behaviour = Literal["pays", "declines", "late", "asks"]
SIGNATURE_HEADER = "x-memory-signature"
OPEN = ("requires_payment_method", "requires_confirmation", "requires_action", "processing")


@dataclass
class Kept:
    intent: Intent
    refunded: int = 0


class MemoryProvider:
    """Payments kept in memory; see the module's docstring."""

    def __init__(
        self,
        behaviour: Behaviour,
        *,
        secret: str = "memory-secret",
        methods: tuple[Method, ...] = ("card", *WALLETS),
    ) -> None:
        self.name = "memory"
        self.behaviour = behaviour
        self.methods = methods
        self.flows: frozenset[Flow] = frozenset(flow for m in methods for flow in FLOWS[m])
        self.abroad = True  # it stands in for Stripe
        self.answering = behaviour != "late"
        self.confirmed_flows: list[Flow] = []
        self._secret = secret.encode()
        self._kept: dict[str, Kept] = {}
        self._by_key: dict[str, str] = {}
        self._numbers = itertools.count(1)

    def _reachable(self) -> None:
        if not self.answering:
            raise ProviderUnavailable("the provider did not answer in time")

    def owns(self, intent_id: str) -> bool:
        return intent_id.startswith("mem_")

    async def refresh_action(self, intent_id: str, **_: object) -> WalletAction:
        raise ProviderError("flow_unsupported", "Nothing to refresh in memory.")

    def _get(self, intent_id: str) -> Kept:
        kept = self._kept.get(intent_id)
        if kept is None:
            raise ProviderError("resource_missing", "No such payment.", status=404)
        return kept

    async def create_intent(
        self,
        *,
        amount: int,
        currency: str,
        method: Method = "card",
        payment_method: str | None = None,
        metadata: dict[str, str],
        idempotency_key: str,
        **_: object,  # flow, payer, expires_at, description: a provider placing orders here
    ) -> Intent:
        if method == "card" and payment_method is None:
            raise ValueError("a card payment needs its payment method")
        known = self._by_key.get(idempotency_key)
        if known is not None:
            return self._kept[known].intent
        intent = Intent(
            id=f"mem_{next(self._numbers)}",
            status="requires_confirmation",
            amount=amount,
            currency=currency,
            metadata=dict(metadata),
        )
        self._kept[intent.id] = Kept(intent)
        self._by_key[idempotency_key] = intent.id
        return intent

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
        kept = self._get(intent_id)
        if (flow or FLOWS[method][0]) not in FLOWS[method]:
            raise ProviderError("flow_unsupported", f"{method} has no flow {flow}")
        if kept.intent.status not in ("requires_confirmation", "requires_payment_method"):
            if kept.intent.status == "succeeded":
                self._reachable()
                return kept.intent  # the same confirm again (its idempotency key)
            raise ProviderError("payment_intent_unexpected_state", "It cannot be paid now.")
        self.confirmed_flows.append(flow or FLOWS[method][0])
        if self.behaviour == "asks":
            kept.intent = replace(
                kept.intent, status="requires_action", client_secret=f"{intent_id}_secret"
            )
            return kept.intent
        if self.behaviour == "declines":
            kept.intent = replace(
                kept.intent,
                status="requires_payment_method",
                error_code="card_declined",
                error_message="Your card was declined.",
            )
            raise ProviderDeclined(
                "card_declined", "Your card was declined.", intent_id=kept.intent.id
            )
        kept.intent = replace(kept.intent, status="succeeded", error_code=None)
        self._reachable()  # `late`: paid at the provider, and the answer lost on the way
        return kept.intent

    async def retrieve_intent(self, intent_id: str) -> Intent:
        self._reachable()
        return self._get(intent_id).intent

    async def cancel_intent(self, intent_id: str) -> Intent:
        self._reachable()
        kept = self._get(intent_id)
        if kept.intent.status not in OPEN:
            raise ProviderError("payment_intent_unexpected_state", "It cannot be canceled.")
        kept.intent = replace(kept.intent, status="canceled")
        return kept.intent

    async def refund(self, intent_id: str, *, amount: int, idempotency_key: str) -> str:
        self._reachable()
        kept = self._get(intent_id)
        if kept.intent.status != "succeeded" or kept.refunded + amount > kept.intent.amount:
            raise ProviderError("charge_already_refunded", "Nothing more to refund.")
        kept.refunded += amount
        return "succeeded"

    def refunded(self, intent_id: str) -> int:
        return self._get(intent_id).refunded

    # The payer and the provider's own moves, played by a test (tests/payments/world.py).

    def status(self, intent_id: str) -> str:
        return self._get(intent_id).intent.status

    def authenticate(self, intent_id: str, *, success: bool) -> None:
        """The payer completes 3-D Secure, or fails it (the payment wants another card)."""
        kept = self._get(intent_id)
        assert kept.intent.status == "requires_action", kept.intent.status
        if success:
            kept.intent = replace(kept.intent, status="succeeded", error_code=None)
        else:
            kept.intent = replace(
                kept.intent,
                status="requires_payment_method",
                error_code="payment_intent_authentication_failure",
                error_message="3-D Secure failed.",
            )

    def retry(self, intent_id: str) -> None:
        """The payer pays the same payment again with a card that goes through."""
        kept = self._get(intent_id)
        assert kept.intent.status == "requires_payment_method", kept.intent.status
        kept.intent = replace(kept.intent, status="succeeded", error_code=None)

    def expire(self, intent_id: str) -> None:
        """The provider cancels an unpaid payment of its own accord."""
        kept = self._get(intent_id)
        assert kept.intent.status in OPEN, kept.intent.status
        kept.intent = replace(kept.intent, status="canceled")

    def notification(self, event_type: str, intent_id: str) -> tuple[bytes, dict[str, str]]:
        """What this provider would send about `intent_id` now, signed."""
        intent = self._get(intent_id).intent
        payload = json.dumps(
            {
                "id": f"memevt_{next(self._numbers)}",
                "type": event_type,
                "data": {
                    "object": {
                        "id": intent.id,
                        "status": intent.status,
                        "amount": intent.amount,
                        "currency": intent.currency,
                        "metadata": intent.metadata,
                        "last_payment_error": {"code": intent.error_code}
                        if intent.error_code
                        else None,
                    }
                },
            }
        ).encode()
        return payload, {SIGNATURE_HEADER: self._sign(payload)}

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookMessage:
        given = headers.get(SIGNATURE_HEADER)
        if not given or not hmac.compare_digest(given, self._sign(payload)):
            raise ProviderSignatureError("missing or wrong X-Memory-Signature")
        try:
            event = json.loads(payload)
            return WebhookMessage(
                id=event["id"], type=event["type"], object=event["data"]["object"]
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderEventError("not an event") from exc

    def intent_of(self, message: WebhookMessage) -> Intent:
        data: Any = message.object
        if not isinstance(data.get("id"), str) or not isinstance(data.get("status"), str):
            raise ProviderEventError("an event's object needs an id and a status")
        return Intent(
            id=data["id"],
            status=data["status"],
            amount=int(data.get("amount") or 0),
            currency=str(data.get("currency") or ""),
            metadata=dict(data.get("metadata") or {}),
            error_code=(data.get("last_payment_error") or {}).get("code"),
        )

    async def aclose(self) -> None:
        return None
