"""The Alipay stand-in's signatures and notifications: RSA2 over Alipay's string to sign, both ways,
and trade_status_sync posted to the app's notify_url until it answers `success`."""

from __future__ import annotations

import asyncio
import base64
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from devserver.alipay_ledger import alipay_time

RETRY_DELAYS = (
    1,
    2,
    4,
    8,
    16,
)  # after the first attempt; Alipay's own: 4m, 10m, 10m, 1h, 2h, 6h, 15h
DELIVERY_LOG = 1000  # the deliveries the control endpoint can show, newest kept
ANSWER_SHOWN = 64  # how much of the app's answer a delivery records


def string_to_sign(values: Mapping[str, str], *, leave_out: Iterable[str] = ("sign",)) -> str:
    """Alipay's string to sign: the parameters with a value, but those left out, sorted by name,
    `name=value` joined with `&`, values as they are (not URL-encoded)."""
    skipped = set(leave_out)
    return "&".join(f"{k}={values[k]}" for k in sorted(values) if values[k] and k not in skipped)


def sign(key: rsa.RSAPrivateKey, message: str) -> str:
    """RSA2: base64 of SHA256withRSA, PKCS#1 v1.5, over the UTF-8 bytes."""
    signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verifies(key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        key.verify(
            base64.b64decode(signature, validate=True),
            message.encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def signed_by_alipay(key: rsa.RSAPrivateKey, values: dict[str, str]) -> dict[str, str]:
    """A notification's or a return's parameters with Alipay's sign: its string to sign leaves
    out sign and sign_type."""
    message = string_to_sign(values, leave_out=("sign", "sign_type"))
    return {**values, "sign": sign(key, message)}


@dataclass
class Notifier:
    """Posts notifications in the background, again after 1, 2, 4, 8 and 16 s until the app
    answers `success`; `mode` lets a test lose them ("lose": none is sent) or send each twice
    ("repeat": the same notify_id, as Alipay may)."""

    key: rsa.RSAPrivateKey
    mode: str = "deliver"
    deliveries: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=DELIVERY_LOG))
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    client: httpx.AsyncClient | None = None

    def send(self, notify_url: str, values: dict[str, str]) -> None:
        copies = {"deliver": 1, "lose": 0, "repeat": 2}[self.mode]
        if not copies:
            self._log(values, attempt=0, error="lost (notifications mode lose)")
        for _ in range(copies):
            # Held in a set: the loop keeps only weak references to tasks.
            task = asyncio.get_running_loop().create_task(self._deliver(notify_url, values))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _deliver(self, notify_url: str, values: dict[str, str]) -> None:
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=5)
        for attempt, delay in enumerate((0, *RETRY_DELAYS), start=1):
            await asyncio.sleep(delay)
            # notify_time is each attempt's own, and so is the signature over it.
            sent = signed_by_alipay(
                self.key, {**values, "notify_time": alipay_time(datetime.now(UTC))}
            )
            try:
                answer = await self.client.post(
                    notify_url,
                    content=urlencode(sent).encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                )
            except httpx.HTTPError as error:
                self._log(values, attempt=attempt, error=type(error).__name__)
                continue
            text = answer.text.strip()
            self._log(
                values, attempt=attempt, status_code=answer.status_code, answer=text[:ANSWER_SHOWN]
            )
            if text == "success":
                return

    def _log(self, values: dict[str, str], **what: Any) -> None:
        self.deliveries.append(
            {
                "notify_id": values["notify_id"],
                "trade_status": values["trade_status"],
                "out_trade_no": values["out_trade_no"],
                **({"out_biz_no": values["out_biz_no"]} if "out_biz_no" in values else {}),
                **what,
            }
        )

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.client is not None:
            await self.client.aclose()
