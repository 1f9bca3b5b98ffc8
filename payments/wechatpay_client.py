"""Talking to WeChat Pay API v3 and trusting what it says: each request signed with the
merchant key, each answer and notification checked against the platform's keys (WeChat Pay's
public key, or its platform certificates fetched from /v3/certificates and kept up to date).
wechatpay_provider says what to ask; this module only carries it."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from payments.provider import PROVIDER_TIMEOUT, ProviderError, ProviderUnavailable
from payments.wechatpay_messages import MAX_MESSAGE_BYTES
from payments.wechatpay_signatures import (
    BadSignature,
    authorization,
    certificates_of,
    check_signature,
    load_public_key,
)

log = logging.getLogger(__name__)

# Certificates are fetched again at most this often when a serial is not known (a rotation).
CERTIFICATES_REFETCH_SECONDS = 60.0


class WechatPayClient:
    """Signed calls to one merchant's API v3 at `api_base`, answers checked. With
    `public_key` (its id PUB_KEY_ID_..., its PEM) answers are checked with WeChat Pay's public
    key; without, with the platform certificates, fetched when a serial is not known yet."""

    def __init__(
        self,
        *,
        api_base: str,
        mchid: str,
        merchant_serial: str,
        merchant_key: rsa.RSAPrivateKey,
        apiv3_key: str,
        public_key: tuple[str, bytes] | None,
    ) -> None:
        self._mchid = mchid
        self._serial = merchant_serial
        self._key = merchant_key
        self._apiv3_key = apiv3_key
        # The platform's keys by serial; in certificate mode each expires with its certificate.
        self._platform: dict[str, tuple[rsa.RSAPublicKey, datetime | None]] = {}
        if public_key is not None:
            self._platform[public_key[0]] = (load_public_key(public_key[1]), None)
        self._certificate_mode = public_key is None
        self._certificates_fetched = -CERTIFICATES_REFETCH_SECONDS  # time.monotonic()
        self._certificates_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._http = httpx.AsyncClient(
            base_url=api_base,
            timeout=PROVIDER_TIMEOUT,
            headers={"Accept": "application/json", "User-Agent": "Shuyuan (WeChat Pay API v3)"},
        )

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._http.aclose()

    async def call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A request whose answer WeChat Pay signed: its JSON object ({} for a 204).
        ProviderError for a refusal (4xx: WeChat's code and message), ProviderUnavailable for
        no answer, a server error, a rate limit, or an answer not signed by WeChat Pay."""
        status, headers, raw = await self._send(method, path, body)
        await self._check_answer(headers, raw)
        if status == 204:
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            data = None
        if 200 <= status < 300 and isinstance(data, dict):
            return data
        if status == 429 or not 400 <= status < 500:
            raise ProviderUnavailable(f"WeChat Pay answered {status}")
        details = data if isinstance(data, dict) else {}
        code, message = details.get("code"), details.get("message")
        raise ProviderError(
            code[:60] if isinstance(code, str) and code else f"http_{status}",
            message[:300] if isinstance(message, str) and message else "WeChat Pay refused.",
            status=status,
        )

    def check_notification(self, payload: bytes, headers: Mapping[str, str]) -> None:
        """Whether WeChat Pay signed `payload` (Wechatpay-* `headers`, any case) within five
        minutes of now; else BadSignature. A serial not known yet (certificate mode, a
        rotation) starts a fetch of the certificates in the background (this is not async):
        WeChat delivers the notification again, and then it is known."""
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            check_signature(self._platform_keys(), lowered, payload, datetime.now(UTC))
        except BadSignature as exc:
            if exc.unknown_serial:
                self._fetch_certificates_soon()
            raise

    async def _send(
        self, method: str, path: str, body: Mapping[str, Any] | None
    ) -> tuple[int, httpx.Headers, bytes]:
        """One signed request; its answer's status, headers and (bounded) body, unchecked."""
        content = b""
        headers = {}
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        try:
            request = self._http.build_request(
                method, path, content=content or None, headers=headers
            )
            # Signing is about a millisecond of CPU (RSA-2048): fine on the event loop.
            request.headers["Authorization"] = authorization(
                self._key,
                mchid=self._mchid,
                serial=self._serial,
                method=method,
                path=request.url.raw_path.decode("ascii"),
                body=content.decode(),
                now=datetime.now(UTC),
            )
            response = await self._http.send(request, stream=True)
            try:
                raw = bytearray()
                async for chunk in response.aiter_bytes():
                    raw += chunk
                    if len(raw) > MAX_MESSAGE_BYTES:
                        raise ProviderUnavailable("WeChat Pay's answer is over 64 KiB")
            finally:
                await response.aclose()
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ProviderUnavailable(f"WeChat Pay did not answer ({type(exc).__name__})") from exc
        return response.status_code, response.headers, bytes(raw)

    async def _check_answer(self, headers: httpx.Headers, raw: bytes) -> None:
        """An answer's signature, checked (errors and 204s too): one that fails says nothing,
        not even that the request was refused."""
        try:
            check_signature(self._platform_keys(), headers, raw, datetime.now(UTC))
            return
        except BadSignature as exc:
            if not (exc.unknown_serial and await self._fetch_certificates()):
                raise ProviderUnavailable(f"WeChat Pay's answer is not signed: {exc}") from exc
        try:
            check_signature(self._platform_keys(), headers, raw, datetime.now(UTC))
        except BadSignature as exc:
            raise ProviderUnavailable(f"WeChat Pay's answer is not signed: {exc}") from exc

    def _platform_keys(self) -> dict[str, rsa.RSAPublicKey]:
        now = datetime.now(UTC)
        return {
            serial: key
            for serial, (key, expires_at) in self._platform.items()
            if expires_at is None or now < expires_at
        }

    async def _fetch_certificates(self) -> bool:
        """Download the platform certificates (certificate mode; one download at a time, and
        once we hold some, at most once a minute: an answer naming a serial nobody issued must
        not make us fetch on every call); True if fetched now, so an answer may be checked
        again."""
        if not self._certificate_mode:
            return False
        fetched_before = self._certificates_fetched
        async with self._certificates_lock:
            if self._certificates_fetched != fetched_before:
                return True  # another call fetched them meanwhile
            recently = time.monotonic() - self._certificates_fetched
            if self._platform_keys() and recently < CERTIFICATES_REFETCH_SECONDS:
                return False
            self._certificates_fetched = time.monotonic()
            status, headers, raw = await self._send("GET", "/v3/certificates", None)
            if status != 200:
                raise ProviderUnavailable(f"WeChat Pay's certificates: {status}")
            now = datetime.now(UTC)
            try:
                found = certificates_of(self._apiv3_key, raw, now)
                # Decrypting them with the APIv3 key proved them WeChat Pay's; the listing
                # itself must be signed by one of them too.
                keys = {certificate.serial: certificate.key for certificate in found}
                check_signature(keys, headers, raw, now)
            except (ValueError, BadSignature) as exc:
                raise ProviderUnavailable(f"WeChat Pay's certificates: {exc}") from exc
            for certificate in found:
                self._platform[certificate.serial] = (certificate.key, certificate.expires_at)
            return True

    def _fetch_certificates_soon(self) -> None:
        if not self._certificate_mode or self._background:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._fetch_in_background())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _fetch_in_background(self) -> None:
        try:
            await self._fetch_certificates()
        except ProviderUnavailable as exc:
            log.warning("WeChat Pay's certificates could not be fetched: %s", exc)
