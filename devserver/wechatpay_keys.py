"""Development keys for WeChat Pay API v3: the merchant's and the platform's, made once per folder.

The stand-in (devserver/wechatpay.py), the app in development and the tests share one folder:
the merchant signs with apiclient_key.pem; the stand-in checks with apiclient_cert.pem, signs
its answers with platform_key.pem, and the merchant checks those with pub_key.pem (public-key
mode) or platform_cert.pem (certificate mode, as /v3/certificates hands it out). The numbers
below are made-up values shaped as WeChat's are; none of them is anyone's real account.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

MCHID = "1230000109"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A72"
PLATFORM_SERIAL = "3775B6A45ACD588826D15E583A95F5DD23C0DCE4"
PUBLIC_KEY_ID = "PUB_KEY_ID_01123000010920261206000000000001"
APIV3_KEY = "ShuyuanDevApiV3Key00000000000032"


@dataclass(frozen=True)
class WechatPayKeys:
    merchant_key: Path  # apiclient_key.pem: the merchant's private key (PKCS#8)
    merchant_cert: Path  # apiclient_cert.pem: its certificate, serial MERCHANT_SERIAL
    platform_key: Path  # platform_key.pem: WeChat Pay's private key (the stand-in's alone)
    platform_cert: Path  # platform_cert.pem: its certificate, serial PLATFORM_SERIAL
    public_key: Path  # pub_key.pem: the platform's public key (public-key mode, PUBLIC_KEY_ID)


def _certificate(key: rsa.RSAPrivateKey, serial: str, common_name: str) -> bytes:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Shuyuan development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    # From yesterday, so a clock a little behind still finds it valid.
    start = datetime.now(UTC) - timedelta(days=1)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int(serial, 16))
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=5 * 365))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, content: bytes) -> None:
    # Written aside and renamed: a process reading the folder meanwhile never sees half a key.
    partial = path.with_suffix(".partial")
    partial.write_bytes(content)
    partial.rename(path)


def ensure_keys(folder: Path) -> WechatPayKeys:
    """The folder's development keys, made on the first call and read as they are afterwards
    (a second process, or a second run, signs and checks with the same keys)."""
    keys = WechatPayKeys(
        merchant_key=folder / "apiclient_key.pem",
        merchant_cert=folder / "apiclient_cert.pem",
        platform_key=folder / "platform_key.pem",
        platform_cert=folder / "platform_cert.pem",
        public_key=folder / "pub_key.pem",
    )
    folder.mkdir(parents=True, exist_ok=True)
    # One maker at a time: two processes starting together must not pair one's certificate
    # with the other's key.
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _make_missing(keys)
    return keys


def _make_missing(keys: WechatPayKeys) -> None:
    if not (keys.merchant_key.exists() and keys.merchant_cert.exists()):
        merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write(keys.merchant_cert, _certificate(merchant, MERCHANT_SERIAL, MCHID))
        _write(keys.merchant_key, _private_pem(merchant))
    if not (
        keys.platform_key.exists() and keys.platform_cert.exists() and keys.public_key.exists()
    ):
        platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write(keys.platform_cert, _certificate(platform, PLATFORM_SERIAL, "Tenpay.com Root CA"))
        _write(
            keys.public_key,
            platform.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )
        _write(keys.platform_key, _private_pem(platform))
