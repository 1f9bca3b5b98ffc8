"""WeChat Pay API v3's signatures and encryption: our requests signed with the merchant key,
its answers and notifications checked against the platform's keys, its resources decrypted
with the APIv3 key. No I/O here: wechatpay_client fetches what this module reads."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
# An answer or notification signed further than this from now is refused (a replay).
TOLERANCE_SECONDS = 300
MAX_SIGNATURE_LENGTH = 1024  # base64 of a 2048-bit (or 4096-bit) signature is 344 (684)
MAX_SERIAL_LENGTH = 64
MAX_NONCE_LENGTH = 64
MAX_CIPHERTEXT_LENGTH = 48 * 1024  # within an answer or notification of at most 64 KiB
MAX_CERTIFICATES = 10  # WeChat lists one or two (the old and the new during a rotation)
NONCE_ALPHABET = string.ascii_letters + string.digits


class BadSignature(Exception):
    """An answer or notification not signed by a platform key we know; `unknown_serial` when
    only its key is unknown (in certificate mode, fetching the certificates may teach it)."""

    def __init__(self, reason: str, *, unknown_serial: bool = False) -> None:
        super().__init__(reason)
        self.unknown_serial = unknown_serial


class Undecryptable(ValueError):
    """A ciphertext that the APIv3 key does not open (forged, or encrypted with another key)."""


def nonce(length: int = 32) -> str:
    return "".join(secrets.choice(NONCE_ALPHABET) for _ in range(length))


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the merchant key must be an RSA private key")
    return key


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("WeChat Pay's public key must be an RSA key")
    return key


def sign(key: rsa.RSAPrivateKey, message: str) -> str:
    """base64 RSA-SHA256 PKCS#1 v1.5 of `message`. About a millisecond of CPU for a 2048-bit
    key: cheap enough to run on the event loop, once per request."""
    signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def authorization(
    key: rsa.RSAPrivateKey,
    *,
    mchid: str,
    serial: str,
    method: str,
    path: str,
    body: str,
    now: datetime,
) -> str:
    """The Authorization header of one request: `path` with its query, as sent."""
    timestamp = str(int(now.timestamp()))
    nonce_str = nonce()
    signature = sign(key, f"{method}\n{path}\n{timestamp}\n{nonce_str}\n{body}\n")
    return (
        f'{SIGNATURE_TYPE} mchid="{mchid}",nonce_str="{nonce_str}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial}"'
    )


def jsapi_parameters(key: rsa.RSAPrivateKey, *, appid: str, prepay_id: str) -> dict[str, str]:
    """WeixinJSBridge getBrandWCPayRequest's parameters for one prepay_id, signed by us."""
    timestamp = str(int(datetime.now(UTC).timestamp()))
    nonce_str = nonce()
    package = f"prepay_id={prepay_id}"
    return {
        "appId": appid,
        "timeStamp": timestamp,
        "nonceStr": nonce_str,
        "package": package,
        "signType": "RSA",
        "paySign": sign(key, f"{appid}\n{timestamp}\n{nonce_str}\n{package}\n"),
    }


def _header(headers: Mapping[str, str], name: str, limit: int) -> str:
    value = headers.get(name)
    if not value or len(value) > limit:
        raise BadSignature(f"{name} is missing or longer than {limit}")
    return value


def check_signature(
    keys: Mapping[str, rsa.RSAPublicKey], headers: Mapping[str, str], body: bytes, now: datetime
) -> None:
    """Whether `body` and its Wechatpay-* headers (names lower case) were signed by one of the
    platform `keys` (by serial) within TOLERANCE_SECONDS of `now`; else BadSignature."""
    kind = headers.get("wechatpay-signature-type")
    if kind is not None and kind != SIGNATURE_TYPE:
        raise BadSignature("Wechatpay-Signature-Type is not WECHATPAY2-SHA256-RSA2048")
    timestamp = _header(headers, "wechatpay-timestamp", 12)
    nonce_value = _header(headers, "wechatpay-nonce", MAX_NONCE_LENGTH)
    signature = _header(headers, "wechatpay-signature", MAX_SIGNATURE_LENGTH)
    serial = _header(headers, "wechatpay-serial", MAX_SERIAL_LENGTH)
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):  # ASCII digits: isdigit() takes "²"
        raise BadSignature("Wechatpay-Timestamp is not a number of seconds")
    if abs(now.timestamp() - int(timestamp)) > TOLERANCE_SECONDS:
        raise BadSignature("Wechatpay-Timestamp is more than 300 s from now (a replay?)")
    key = keys.get(serial)
    if key is None:
        raise BadSignature(f"no platform key has serial {serial[:64]!r}", unknown_serial=True)
    # WeChat's probes ("WECHATPAY/SIGNTEST/...") are not base64 and must be refused: they are.
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadSignature("Wechatpay-Signature is not base64") from exc
    try:
        message = f"{timestamp}\n{nonce_value}\n".encode() + body + b"\n"
        key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise BadSignature("Wechatpay-Signature does not verify") from exc


def decrypt(apiv3_key: str, *, nonce: str, ciphertext: str, associated_data: str) -> bytes:
    """AEAD_AES_256_GCM as WeChat Pay uses it: the key is the APIv3 key's 32 bytes, the
    ciphertext base64 of the encrypted bytes and their 16-byte tag. Undecryptable if the tag
    does not match (a forgery, or another merchant's key)."""
    if len(ciphertext) > MAX_CIPHERTEXT_LENGTH or len(nonce) > MAX_NONCE_LENGTH:
        raise Undecryptable("the ciphertext or its nonce is too long")
    try:
        sealed = base64.b64decode(ciphertext, validate=True)
        return AESGCM(apiv3_key.encode()).decrypt(nonce.encode(), sealed, associated_data.encode())
    except (binascii.Error, ValueError, InvalidTag) as exc:
        raise Undecryptable("the ciphertext does not decrypt with our APIv3 key") from exc


@dataclass(frozen=True)
class PlatformCertificate:
    serial: str
    key: rsa.RSAPublicKey
    expires_at: datetime


def certificates_of(apiv3_key: str, body: bytes, now: datetime) -> list[PlatformCertificate]:
    """The platform certificates listed by GET /v3/certificates, still valid at `now`. Each
    is decrypted with the APIv3 key, which is what proves they are WeChat Pay's (the answer's
    own signature can only be checked with them afterwards). ValueError if malformed."""
    listing = json.loads(body)
    data = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(data, list) or len(data) > MAX_CERTIFICATES:
        raise ValueError("data must be a list of at most 10 certificates")
    found = []
    for item in data:
        sealed = item.get("encrypt_certificate") if isinstance(item, dict) else None
        if not isinstance(sealed, dict):
            raise ValueError("each certificate must have its encrypt_certificate")
        fields = [sealed.get(name) for name in ("nonce", "ciphertext", "associated_data")]
        if not all(isinstance(value, str) for value in fields):
            raise ValueError("encrypt_certificate needs nonce, ciphertext and associated_data")
        nonce_value, ciphertext, associated = (str(value) for value in fields)
        pem = decrypt(
            apiv3_key, nonce=nonce_value, ciphertext=ciphertext, associated_data=associated
        )
        certificate = x509.load_pem_x509_certificate(pem)
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("a platform certificate must hold an RSA key")
        # Answers name the serial as listed (hex, upper case): it must be the certificate's.
        serial = item.get("serial_no")
        if not isinstance(serial, str) or not 0 < len(serial) <= MAX_SERIAL_LENGTH:
            raise ValueError("each certificate must have its serial_no")
        try:
            same = int(serial, 16) == certificate.serial_number
        except ValueError:
            same = False
        if not same:
            raise ValueError("serial_no is not the certificate's serial number")
        expires_at = certificate.not_valid_after_utc
        if certificate.not_valid_before_utc <= now < expires_at:
            found.append(PlatformCertificate(serial.upper(), key, expires_at))
    return found
