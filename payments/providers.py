"""Several providers behind the one PaymentProvider: each method is paid through the provider
the settings name for it (SHUYUAN_PROVIDERS: cards through Stripe; WeChat Pay and Alipay
through Stripe or directly through their own APIs), and every later call about a payment goes
to the provider that took it (Payment.provider, through `of_payment`; by the shape of its
intent id where only the id is known: PaymentProvider.owns)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from payments.provider import (
    FLOWS,
    Flow,
    Intent,
    Method,
    Payer,
    PaymentProvider,
    ProviderError,
    ProviderUnavailable,
    WalletAction,
    WebhookMessage,
)


def of_payment(provider: PaymentProvider, name: str) -> PaymentProvider:
    """The provider named `name` (a payment's Payment.provider) among the app's: its reads,
    closes and refunds go there whatever is offered for new payments now (a lone provider
    answers for its own). ProviderUnavailable when no provider of that
    name is configured any more (its reads would go to another provider, which does not know
    it): nothing can be concluded about the payment until it is."""
    if isinstance(provider, Providers):
        return provider.named(name)
    if provider.name != name:
        raise ProviderUnavailable(f"No {name} account is configured for its payments.")
    return provider


def name_for(provider: PaymentProvider, method: str) -> str:
    """The name of the provider new payments by `method` go to (kept in Payment.provider)."""
    if isinstance(provider, Providers):
        chosen = provider.provider_for(cast(Method, method))
        if chosen is not None:
            return chosen.name
    return provider.name


def sends_abroad(provider: PaymentProvider, method: str) -> bool:
    """Whether a new payment by `method` goes to a provider abroad (its `abroad`)."""
    if isinstance(provider, Providers):
        chosen = provider.provider_for(cast(Method, method))
        return chosen is not None and chosen.abroad
    return provider.abroad


class Providers:
    """The app's providers as one. `by_method` names the provider of each method offered, in
    checkout's order; `webhooks` is the provider whose notifications arrive at
    /payments/webhook (Stripe's); `also` are providers not offered for new payments."""

    def __init__(
        self,
        by_method: Mapping[Method, PaymentProvider],
        *,
        webhooks: PaymentProvider,
        also: tuple[PaymentProvider, ...] = (),
    ) -> None:
        self._by_method = dict(by_method)
        self._webhooks = webhooks
        self.methods: tuple[Method, ...] = tuple(self._by_method)
        self.flows: frozenset[Flow] = frozenset(
            flow
            for method, provider in self._by_method.items()
            for flow in FLOWS[method]
            if flow in provider.flows
        )
        # Every provider payments may have gone to, offered now or not (`also`: one no longer
        # offered for new payments still reads, closes and refunds its own).
        self._all = list(dict.fromkeys([webhooks, *self._by_method.values(), *also]))
        self.name = webhooks.name
        # As one provider: abroad if any method goes abroad (sends_abroad asks per method).
        self.abroad = any(provider.abroad for provider in self._by_method.values())

    def provider_for(self, method: Method) -> PaymentProvider | None:
        """The provider new payments by `method` go to; None if it is not offered."""
        return self._by_method.get(method)

    def every(self) -> tuple[PaymentProvider, ...]:
        return tuple(self._all)

    def named(self, name: str) -> PaymentProvider:
        for provider in self._all:
            if provider.name == name:
                return provider
        raise ProviderUnavailable(f"No {name} account is configured for its payments.")

    def owns(self, intent_id: str) -> bool:
        return any(provider.owns(intent_id) for provider in self._all)

    def _owner(self, intent_id: str) -> PaymentProvider:
        for provider in self._all:
            if provider.owns(intent_id):
                return provider
        raise ProviderError("resource_missing", "No provider knows this payment.", status=404)

    async def create_intent(self, *, method: Method = "card", **arguments: Any) -> Intent:
        provider = self._by_method.get(method)
        if provider is None:
            raise ProviderError("method_unsupported", f"{method} is not offered here.")
        intent: Intent = await provider.create_intent(method=method, **arguments)
        return intent

    async def confirm_intent(self, intent_id: str, **arguments: Any) -> Intent:
        intent: Intent = await self._owner(intent_id).confirm_intent(intent_id, **arguments)
        return intent

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
        return await self._owner(intent_id).refresh_action(
            intent_id,
            amount=amount,
            currency=currency,
            metadata=metadata,
            flow=flow,
            payer=payer,
            expires_at=expires_at,
            description=description,
            return_url=return_url,
        )

    async def retrieve_intent(self, intent_id: str) -> Intent:
        return await self._owner(intent_id).retrieve_intent(intent_id)

    async def cancel_intent(self, intent_id: str) -> Intent:
        return await self._owner(intent_id).cancel_intent(intent_id)

    async def refund(self, intent_id: str, *, amount: int, idempotency_key: str) -> str:
        return await self._owner(intent_id).refund(
            intent_id, amount=amount, idempotency_key=idempotency_key
        )

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookMessage:
        return self._webhooks.verify_webhook(payload, headers)

    def intent_of(self, message: WebhookMessage) -> Intent:
        return self._webhooks.intent_of(message)

    async def aclose(self) -> None:
        for provider in self._all:
            await provider.aclose()
