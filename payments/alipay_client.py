"""Talking to Alipay's open API and trusting what it says: each request signed with the
application's private key (RSA2), each answer checked against Alipay's public key, and the
signed gateway URLs a buyer's browser opens. alipay_provider says what to ask; this module
only carries it."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from payments.alipay_messages import CHINA, MAX_MESSAGE_BYTES
from payments.alipay_signatures import (
    BadSignature,
    sign_params,
    signed_answer,
    verify,
    verify_params,
)
from payments.provider import PROVIDER_TIMEOUT, ProviderError, ProviderUnavailable

SUCCESS = "10000"
# Alipay's own trouble, not a refusal of the request: nothing can be concluded from it.
UNAVAILABLE_CODES = ("20000",)
UNAVAILABLE_SUB_CODES = ("ACQ.SYSTEM_ERROR",)


def biz_content_of(fields: Mapping[str, Any]) -> str:
    """biz_content as Alipay reads it: compact JSON, Chinese as is (a shorter URL)."""
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


class AlipayClient:
    """Signed calls to one application's open API at `gateway` (Alipay's
    https://openapi.alipay.com/gateway.do, or the stand-in's /gateway.do), answers checked."""

    def __init__(
        self,
        *,
        gateway: str,
        app_id: str,
        app_private_key: rsa.RSAPrivateKey,
        alipay_public_key: rsa.RSAPublicKey,
    ) -> None:
        self.gateway = gateway
        self.app_id = app_id
        self._key = app_private_key
        self._alipay_key = alipay_public_key
        self._http = httpx.AsyncClient(
            timeout=PROVIDER_TIMEOUT,
            headers={"Accept": "application/json", "User-Agent": "Shuyuan (Alipay open API)"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def signed_request(
        self, method: str, biz_content: Mapping[str, Any], **extra: str
    ) -> dict[str, str]:
        """The parameters of one request (the common ones, `extra`, biz_content), signed, with
        a fresh timestamp: Alipay refuses a stale one."""
        return sign_params(self._key, self._request(method, biz_content, **extra))

    def _request(self, method: str, biz_content: Mapping[str, Any], **extra: str) -> dict[str, str]:
        return {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            **extra,
            "biz_content": biz_content_of(biz_content),
        }

    def page_url(
        self, method: str, biz_content: Mapping[str, Any], *, notify_url: str, return_url: str
    ) -> str:
        """The signed gateway URL that makes the trade when a buyer's browser opens it
        (alipay.trade.page.pay, alipay.trade.wap.pay)."""
        params = self.signed_request(
            method, biz_content, notify_url=notify_url, return_url=return_url
        )
        joiner = "&" if "?" in self.gateway else "?"
        return f"{self.gateway}{joiner}{urlencode(params)}"

    def longest_page_url(
        self, method: str, biz_content: Mapping[str, Any], *, notify_url: str, return_url: str
    ) -> int:
        """How long page_url's URL can be with these parameters, whatever its signature: the
        same for the same parameters, so a subject cut to fit is cut alike each time."""
        params = self._request(method, biz_content, notify_url=notify_url, return_url=return_url)
        # The signature's base64 (344 characters for 2048 bits), its + and / encoded in three
        # characters each: room for an eighth of them to be + or /, ten standard deviations
        # above the 11 expected; its == padding is %3D%3D.
        signature = math.ceil(self._key.key_size / 8 / 3) * 4
        return len(f"{self.gateway}?{urlencode(params)}&sign=") + signature * 5 // 4 + 4

    async def call(self, method: str, biz_content: Mapping[str, Any]) -> dict[str, Any]:
        """One API call whose answer Alipay signed: the answer's object when its code is
        10000. ProviderError for a refusal (the sub_code, else the code, and its message);
        ProviderUnavailable for no answer, a server error, Alipay's own trouble, or an answer
        not signed by Alipay (it says nothing, not even that the request was refused)."""
        body = urlencode(self.signed_request(method, biz_content)).encode()
        text = await self._send(body)
        try:
            signed, answer, signature = signed_answer(text, method)
        except (ValueError, RecursionError) as exc:
            raise ProviderUnavailable(
                f"Alipay's answer cannot be read: {_unsigned_refusal(text)}"
            ) from exc
        try:
            verify(self._alipay_key, signed, signature)
        except BadSignature as exc:
            raise ProviderUnavailable(f"Alipay's answer is not signed: {exc}") from exc
        code = _text(answer, "code", 10)
        if code == SUCCESS:
            return answer
        sub_code = _text(answer, "sub_code", 60)
        message = _text(answer, "sub_msg", 300) or _text(answer, "msg", 300)
        if (
            code in UNAVAILABLE_CODES
            or sub_code.startswith("isp.")
            or sub_code in UNAVAILABLE_SUB_CODES
        ):
            raise ProviderUnavailable(f"Alipay answered {code} {sub_code}: {message}")
        raise ProviderError(sub_code or code or "unknown", message or "Alipay refused.")

    def check_message(self, params: Mapping[str, str]) -> None:
        """Whether Alipay signed a notification's or a return's `params`; else BadSignature."""
        verify_params(self._alipay_key, params)

    async def _send(self, body: bytes) -> str:
        """POST one request; the answer's text (at most 64 KiB, UTF-8), unchecked."""
        try:
            response = await self._http.send(
                self._http.build_request(
                    "POST",
                    self.gateway,
                    content=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                ),
                stream=True,
            )
            try:
                raw = bytearray()
                async for chunk in response.aiter_bytes():
                    raw += chunk
                    if len(raw) > MAX_MESSAGE_BYTES:
                        raise ProviderUnavailable("Alipay's answer is over 64 KiB")
            finally:
                await response.aclose()
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ProviderUnavailable(f"Alipay did not answer ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise ProviderUnavailable(f"Alipay answered {response.status_code}")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProviderUnavailable("Alipay's answer is not UTF-8") from exc


def _text(answer: Mapping[str, Any], key: str, limit: int) -> str:
    value = answer.get(key)
    return value[:limit] if isinstance(value, str) else ""


def _unsigned_refusal(text: str) -> str:
    """What an answer without our method's object says, as far as it can be read: Alipay
    answers some refusals (a signature or an app_id it does not know) unsigned, under
    error_response."""
    try:
        whole = json.loads(text)
    except (ValueError, RecursionError):
        return "not JSON"
    refusal = whole.get("error_response") if isinstance(whole, dict) else None
    if not isinstance(refusal, dict):
        return "no answer object"
    return f"error_response {_text(refusal, 'code', 10)} {_text(refusal, 'sub_code', 60)}"
