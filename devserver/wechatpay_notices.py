"""The WeChat Pay stand-in's signatures, encryption and notifications: what WeChat signs with its
platform key, encrypts with the merchant's APIv3 key, and posts to the merchant's notify_url."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import string
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from devserver.wechatpay_ledger import Notice, wechat_time

ALPHANUMERIC = string.ascii_letters + string.digits
RETRY_DELAYS = (1, 2, 4, 8, 16)  # after the first attempt; WeChat's own are minutes apart
DELIVERY_LOG = 1000  # the deliveries the control endpoint can show, newest kept


def nonce(length: int) -> str:
    return "".join(secrets.choice(ALPHANUMERIC) for _ in range(length))


def sign(key: rsa.RSAPrivateKey, message: str) -> str:
    """base64 of RSA-SHA256 PKCS#1 v1.5: WeChat Pay v3's signature, both ways."""
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


def encrypt(apiv3_key: str, plaintext: bytes, associated_data: str) -> dict[str, str]:
    """AEAD_AES_256_GCM with the APIv3 key, as notifications and /v3/certificates carry it."""
    iv = nonce(12)
    sealed = AESGCM(apiv3_key.encode()).encrypt(iv.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "nonce": iv,
        "associated_data": associated_data,
        "ciphertext": base64.b64encode(sealed).decode(),
    }


@dataclass
class Platform:
    """WeChat Pay's side of the signatures: its key and the serial its answers name."""

    key: rsa.RSAPrivateKey
    serial: str  # PUBLIC_KEY_ID in public-key mode, the certificate's serial otherwise

    def headers(self, body: bytes) -> dict[str, str]:
        timestamp, once = str(int(time.time())), nonce(32)
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": once,
            "Wechatpay-Signature": sign(self.key, f"{timestamp}\n{once}\n{body.decode()}\n"),
            "Wechatpay-Serial": self.serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            "Request-ID": str(uuid.uuid4()),
        }


@dataclass
class Notifier:
    """Sends notices in the background, retrying a refused one; `mode` lets a test lose them
    ("lose": none is sent) or send each twice ("repeat": same id, as WeChat may)."""

    platform: Platform
    apiv3_key: str
    mode: str = "deliver"
    deliveries: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=DELIVERY_LOG))
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    client: httpx.AsyncClient | None = None

    def send(self, notice: Notice) -> None:
        payload = {
            "id": str(uuid.uuid4()),
            "create_time": wechat_time(datetime.now(UTC)),
            "event_type": notice.event_type,
            "resource_type": "encrypt-resource",
            "summary": notice.summary,
            "resource": {
                **encrypt(
                    self.apiv3_key,
                    json.dumps(notice.resource, ensure_ascii=False).encode(),
                    notice.original_type,
                ),
                "original_type": notice.original_type,
            },
        }
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        copies = {"deliver": 1, "lose": 0, "repeat": 2}[self.mode]
        if not copies:
            self._log(payload, notice, attempt=0, error="lost (notifications mode lose)")
        for _ in range(copies):
            # Held in a set: the loop keeps only weak references to tasks.
            task = asyncio.get_running_loop().create_task(self._deliver(payload, notice, body))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _deliver(self, payload: dict[str, Any], notice: Notice, body: bytes) -> None:
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=5)
        for attempt, delay in enumerate((0, *RETRY_DELAYS), start=1):
            await asyncio.sleep(delay)
            # Signed afresh each attempt: a retry minutes later still carries a recent timestamp.
            headers = {"Content-Type": "application/json", **self.platform.headers(body)}
            try:
                answer = await self.client.post(notice.notify_url, content=body, headers=headers)
            except httpx.HTTPError as error:
                self._log(payload, notice, attempt=attempt, error=type(error).__name__)
                continue
            self._log(payload, notice, attempt=attempt, status_code=answer.status_code)
            if answer.is_success:
                return

    def _log(self, payload: dict[str, Any], notice: Notice, **what: Any) -> None:
        self.deliveries.append(
            {
                "id": payload["id"],
                "event_type": notice.event_type,
                "out_trade_no": notice.out_trade_no,
                **what,
            }
        )

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.client is not None:
            await self.client.aclose()
