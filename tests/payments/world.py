"""The world outside us, driven by tests: a shopper's bank at localstripe (Bank) or at the
tests' in-memory provider (MemoryBank), and its webhooks.

Each event changes the intent at the provider first, the way a bank or a browser would, and
then delivers the webhook the provider would send for it, signed, to our app. An event the
provider would not allow (a success after a cancel) changes nothing and sends nothing.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from settings import Settings
from tests.payments.conftest import signed_event
from tests.payments.memory_provider import MemoryProvider

_event_numbers = itertools.count(1)


class Bank:
    """One PaymentIntent at localstripe, moved by hand through `http` (a client of
    localstripe's); webhooks go to `app_client`."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        app_client: httpx.AsyncClient,
        intent_id: str,
    ) -> None:
        self.settings = settings
        self.http = http
        self.app_client = app_client
        self.intent_id = intent_id
        self._auth = {"Authorization": f"Bearer {settings.stripe_secret_key}"}

    async def _call(self, method: str, path: str, **data: str) -> dict[str, Any]:
        response = await self.http.request(method, path, data=data or None, headers=self._auth)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def intent(self) -> dict[str, Any]:
        return await self._call("GET", f"/v1/payment_intents/{self.intent_id}")

    async def amount_refunded(self) -> int:
        intent = await self.intent()
        if not intent.get("latest_charge"):
            return 0
        charge_id = intent["latest_charge"]
        charge_id = charge_id["id"] if isinstance(charge_id, dict) else charge_id
        charge = await self._call("GET", f"/v1/charges/{charge_id}")
        return int(charge.get("amount_refunded") or 0)

    async def deliver(self, event_type: str) -> httpx.Response:
        payload, signature = signed_event(
            self.settings.stripe_webhook_secret,
            event_type,
            await self.intent(),
            event_id=f"evt_world_{next(_event_numbers)}",
        )
        return await self.app_client.post(
            "/payments/webhook",
            content=payload,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )

    async def _authenticate(self, *, success: bool) -> None:
        intent = await self.intent()
        response = await self.http.post(
            f"/v1/payment_intents/{self.intent_id}/_authenticate",
            data={
                "client_secret": intent["client_secret"],
                "success": "true" if success else "false",
                "key": self.settings.stripe_publishable_key,
            },
        )
        response.raise_for_status()

    async def succeed(self, *, tell: bool = True) -> bool:
        """The shopper completes 3-D Secure, or retries the same intent with a good card;
        the webhook is delivered unless `tell` is False (it is late, or lost)."""
        status = (await self.intent())["status"]
        if status == "requires_action":
            await self._authenticate(success=True)
        elif status == "requires_payment_method":
            await self._call(
                "POST", f"/v1/payment_intents/{self.intent_id}", payment_method="pm_card_visa"
            )
            await self._call("POST", f"/v1/payment_intents/{self.intent_id}/confirm")
        else:
            return False
        if (await self.intent())["status"] != "succeeded":
            return False
        if tell:
            assert (await self.deliver("payment_intent.succeeded")).status_code == 200
        return True

    async def fail(self) -> bool:
        """The shopper fails 3-D Secure: the intent wants another payment method."""
        if (await self.intent())["status"] != "requires_action":
            return False
        await self._authenticate(success=False)
        assert (await self.deliver("payment_intent.payment_failed")).status_code == 200
        return True

    async def cancel(self) -> bool:
        """The provider cancels the intent (it expired, or was canceled from its dashboard)."""
        status = (await self.intent())["status"]
        if status not in ("requires_action", "requires_payment_method", "requires_confirmation"):
            return False
        await self._call("POST", f"/v1/payment_intents/{self.intent_id}/cancel")
        assert (await self.deliver("payment_intent.canceled")).status_code == 200
        return True


class MemoryBank:
    """One payment at the tests' in-memory provider, moved by hand; its notifications go to
    `app_client` (an app paying through that provider). The same moves as Bank's."""

    def __init__(self, provider: MemoryProvider, app_client: httpx.AsyncClient, intent_id: str):
        self.provider = provider
        self.app_client = app_client
        self.intent_id = intent_id

    async def intent(self) -> dict[str, Any]:
        return {"id": self.intent_id, "status": self.provider.status(self.intent_id)}

    async def amount_refunded(self) -> int:
        return self.provider.refunded(self.intent_id)

    async def deliver(self, event_type: str) -> httpx.Response:
        payload, headers = self.provider.notification(event_type, self.intent_id)
        return await self.app_client.post("/payments/webhook", content=payload, headers=headers)

    async def succeed(self, *, tell: bool = True) -> bool:
        status = self.provider.status(self.intent_id)
        if status == "requires_action":
            self.provider.authenticate(self.intent_id, success=True)
        elif status == "requires_payment_method":
            self.provider.retry(self.intent_id)
        else:
            return False
        if tell:
            assert (await self.deliver("payment_intent.succeeded")).status_code == 200
        return True

    async def fail(self) -> bool:
        if self.provider.status(self.intent_id) != "requires_action":
            return False
        self.provider.authenticate(self.intent_id, success=False)
        assert (await self.deliver("payment_intent.payment_failed")).status_code == 200
        return True

    async def cancel(self) -> bool:
        status = self.provider.status(self.intent_id)
        if status not in ("requires_action", "requires_payment_method", "requires_confirmation"):
            return False
        self.provider.expire(self.intent_id)
        assert (await self.deliver("payment_intent.canceled")).status_code == 200
        return True
