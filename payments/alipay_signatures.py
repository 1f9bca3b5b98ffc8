"""Alipay open API's RSA2 signatures: our requests signed with the application's private key,
Alipay's answers, notifications and returns checked with Alipay's public key. No I/O here:
alipay_client carries what this module signs and checks."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

MAX_SIGNATURE_LENGTH = 1024  # base64 of a 2048-bit (or 4096-bit) signature is 344 (684)
# What a request's signature leaves out, and what a notification's or a return's does.
REQUEST_UNSIGNED = frozenset({"sign"})
MESSAGE_UNSIGNED = frozenset({"sign", "sign_type"})


class BadSignature(Exception):
    """A message or answer that Alipay's public key does not verify (or that has no signature,
    or one that cannot be read)."""


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the application key must be an RSA private key")
    return key


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("Alipay's public key must be an RSA key")
    return key


def content_to_sign(params: Mapping[str, str], *, unsigned: Collection[str]) -> str:
    """Alipay's string to sign: every parameter with a value, but those `unsigned`, sorted by
    name (code point order, which is UTF-8's byte order), as raw `key=value` joined by &."""
    return "&".join(
        f"{key}={params[key]}" for key in sorted(params) if key not in unsigned and params[key]
    )


def sign(key: rsa.RSAPrivateKey, content: str) -> str:
    """base64 SHA256withRSA (PKCS#1 v1.5) of `content` in UTF-8. About a millisecond of CPU
    for a 2048-bit key: cheap enough to run on the event loop, once per request."""
    signature = key.sign(content.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(key: rsa.RSAPublicKey, content: str, signature: str | None) -> None:
    """Whether `signature` is `key`'s over `content`; BadSignature if not, or if missing."""
    if not signature:
        raise BadSignature("the signature is missing")
    if len(signature) > MAX_SIGNATURE_LENGTH:
        raise BadSignature(f"the signature is longer than {MAX_SIGNATURE_LENGTH}")
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadSignature("the signature is not base64") from exc
    try:
        key.verify(raw, content.encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise BadSignature("the signature does not verify") from exc


def sign_params(key: rsa.RSAPrivateKey, params: Mapping[str, str]) -> dict[str, str]:
    """A request's parameters with their `sign` added."""
    return {**params, "sign": sign(key, content_to_sign(params, unsigned=REQUEST_UNSIGNED))}


def verify_params(key: rsa.RSAPublicKey, params: Mapping[str, str]) -> None:
    """Whether a notification's or a synchronous return's parameters are signed by `key`
    (everything but sign and sign_type); BadSignature if not."""
    sign_type = params.get("sign_type", "RSA2")
    if sign_type != "RSA2":
        raise BadSignature(f"sign_type {sign_type[:20]!r} is not RSA2")
    verify(key, content_to_sign(params, unsigned=MESSAGE_UNSIGNED), params.get("sign"))


def answer_key(method: str) -> str:
    """The name of an API answer's object: alipay.trade.query -> alipay_trade_query_response."""
    return method.replace(".", "_") + "_response"


def signed_answer(body: str, method: str) -> tuple[str, dict[str, Any], str | None]:
    """An API answer's signed part: the exact text of its `<method>_response` value as it
    stands in `body` (the signature covers those characters, not a re-serialisation), that
    value, and the answer's `sign` (None when absent). ValueError if the body is not a JSON
    object holding that value as an object."""
    whole = json.loads(body)
    key = answer_key(method)
    if not isinstance(whole, dict) or not isinstance(whole.get(key), dict):
        raise ValueError(f"the answer has no {key} object")
    # The key's first appearance followed by a colon (inside a string value its quotes would
    # be escaped); Alipay writes it first, compactly.
    found = re.search(re.escape(json.dumps(key)) + r"\s*:\s*", body)
    if found is None:
        raise ValueError(f"the answer has no {key} object")
    value, end = json.JSONDecoder().raw_decode(body, found.end())
    # What was signed is what is used: a body whose first copy of the key (the text checked)
    # is not the top-level value (what json.loads keeps) is refused.
    if value != whole[key]:
        raise ValueError(f"the answer holds {key} twice")
    signature = whole.get("sign")
    return body[found.end() : end], value, signature if isinstance(signature, str) else None
