"""What a payment provider is to Shuyuan: our own types in and out, and the PaymentProvider
protocol every provider implements (stripe_provider, wechatpay_provider and alipay_provider;
the tests' in-memory provider). Nothing outside payments/ names an adapter: the
app factory builds one (payments.services.make_provider) and everything else takes a
PaymentProvider.

A payment is created for an amount, a method and a flow, then confirmed; its answers (an
Intent: its status, the wallet's next action) become our next actions (payments.settle). It
can be read back, canceled and refunded; the provider's notifications are verified and parsed
by the provider that sent them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import httpx

# Every provider call answers within this time, so a buyer hears "try again" within seconds.
PROVIDER_TIMEOUT = httpx.Timeout(6.0, connect=2.0)


# How a buyer pays: a card (a PaymentMethod made by the provider's script), or a wallet.
Method = Literal["card", "wechat_pay", "alipay"]
WALLETS: tuple[Method, ...] = ("wechat_pay", "alipay")
# Where a payment is made: `card` for a card; WeChat Pay `native` (a QR code a phone scans),
# `h5` (a phone's own browser opens WeChat), `jsapi` (inside WeChat, with the payer's openid);
# Alipay `page` (a computer's browser) and `wap` (a phone's browser).
Flow = Literal["card", "native", "h5", "jsapi", "page", "wap"]
FLOWS: dict[Method, tuple[Flow, ...]] = {
    "card": ("card",),
    "wechat_pay": ("native", "h5", "jsapi"),
    "alipay": ("page", "wap"),
}
MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class WalletAction:
    """What the buyer must do next in a wallet: scan a QR code (WeChat Pay's native flow,
    `qr_data` and the hosted instructions page), be redirected (Alipay, `url`), open WeChat
    from a phone's browser (WeChat Pay's h5 flow: `url` is its h5_url, valid five minutes),
    or pay inside WeChat's browser (WeChat Pay's jsapi flow: `jsapi` holds the parameters of
    WeixinJSBridge's getBrandWCPayRequest, signed by the merchant)."""

    type: Literal[
        "wechat_pay_display_qr_code",
        "alipay_handle_redirect",
        "wechat_pay_h5",
        "wechat_pay_jsapi",
    ]
    qr_data: str | None = None
    hosted_instructions_url: str | None = None
    url: str | None = None
    jsapi: Mapping[str, str] | None = None


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
    wallet_action: WalletAction | None = None


@dataclass(frozen=True)
class WebhookMessage:
    """A verified webhook event: its id, type and the object it is about."""

    id: str
    type: str
    object: dict[str, Any]


class ProviderError(Exception):
    """The provider refused the request (a bad payment method id, a missing intent, ...)."""

    def __init__(
        self, code: str, message: str, *, param: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.status = status

    @property
    def missing(self) -> bool:
        """Whether the provider says the object asked for does not exist (not a refusal of
        our key or of the request: those say nothing of the object)."""
        return self.code == "resource_missing" or self.status == 404


class ProviderDeclined(ProviderError):
    """The card was declined; `intent_id` names the intent when the provider made one."""

    def __init__(self, code: str, message: str, *, intent_id: str | None = None) -> None:
        super().__init__(code, message)
        self.intent_id = intent_id


class ProviderUnavailable(Exception):
    """The provider did not answer in time, or answered with a server error."""


class ProviderSignatureError(Exception):
    """A notification's signature is missing, malformed, stale or wrong."""


class ProviderEventError(ValueError):
    """A signed event whose content is not what the provider documents (a wrong type, a
    missing field, an oversized id): it cannot be applied."""


@dataclass(frozen=True)
class Payer:
    """What a flow may need to know of who pays: the address their request came from (WeChat
    Pay's h5 asks for it), and inside WeChat their openid for this site (jsapi)."""

    address: str | None = None
    openid: str | None = None


class PaymentProvider(Protocol):
    """A payment provider, as payments uses one. Every call answers within PROVIDER_TIMEOUT;
    raises ProviderDeclined (the payer's bank said no), ProviderError (the request was refused;
    `missing` when the payment is unknown) or ProviderUnavailable (no answer, or a server
    error: nothing can be concluded)."""

    # Its name, kept with each payment it takes (Payment.provider): "stripe", "wechatpay",
    # "alipay" (payments.services.PROVIDER_NAMES).
    name: str
    # What the account takes, in the order checkout offers them, and in which flows.
    methods: tuple[Method, ...]
    flows: frozenset[Flow]
    # Whether paying through it sends the payer's personal information outside mainland China
    # (Stripe: yes; WeChat Pay and Alipay paid directly: no): PIPL art. 39 asks a separate
    # consent first (payments.pay, accounts.consents.check_cross_border).
    abroad: bool

    def owns(self, intent_id: str) -> bool:
        """Whether `intent_id` is one of this provider's (each provider's ids have their own
        shape: Stripe's pi_..., ours for WeChat Pay wxp...)."""
        ...

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
        """A payment: an unconfirmed one (status requires_confirmation: nothing is charged
        until confirm_intent), or, with a provider for which placing the order is its start
        (WeChat Pay), one already waiting for its buyer (requires_action, with its wallet
        action): then confirm_intent is not called. A card pays with `payment_method` (made
        by the provider's script in the buyer's browser). `flow`, `payer`, `expires_at` (when
        the provider stops taking it), `description` (what the payer's bill says) and
        `return_url` (where a redirect flow comes back to) are for providers that place the
        order here (WeChat Pay, Alipay)."""
        ...

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
        """A fresh next action for a payment still waiting for its buyer, placed again with
        the same parameters (WeChat Pay's h5_url lives five minutes, so each click gets a new
        one; Alipay's signed page URL carries a timestamp). ProviderError
        `flow_unsupported` where the provider has nothing to refresh."""
        ...

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
        """Confirm a payment in `flow` (the method's first when None). A wallet's answer
        carries its next action (a QR code, a redirect coming back to `return_url`).
        ProviderError `flow_unsupported` for a flow this provider does not offer."""
        ...

    async def retrieve_intent(self, intent_id: str) -> Intent:
        """The payment as the provider has it now (read back)."""
        ...

    async def cancel_intent(self, intent_id: str) -> Intent:
        """Cancel an unpaid payment; ProviderError if it can no longer be canceled."""
        ...

    async def refund(self, intent_id: str, *, amount: int, idempotency_key: str) -> str:
        """Refund part or all of a paid payment; returns the refund's status."""
        ...

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookMessage:
        """The notification in `payload`, if its signature (in `headers`) is the provider's.
        Raises ProviderSignatureError, or ProviderEventError when it is not shaped as one."""
        ...

    def intent_of(self, message: WebhookMessage) -> Intent:
        """The payment a verified notification is about; ProviderEventError if malformed."""
        ...

    async def aclose(self) -> None: ...
