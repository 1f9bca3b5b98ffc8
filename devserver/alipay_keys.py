"""Development keys for Alipay's open API: the app's pair and Alipay's, made once per folder.

The stand-in (devserver/alipay.py), the app in development and the tests share one folder: the
app signs its requests with app_private_key.pem and the stand-in checks them with
app_public_key.pem (what a merchant uploads to Alipay's open platform); the stand-in alone
signs answers, notifications and returns with alipay_private_key.pem, and the app checks them
with alipay_public_key.pem (what the open platform shows as 支付宝公钥). The numbers below are
made-up values shaped as Alipay's are; none of them is anyone's real account.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

APP_ID = "9021000100000001"  # 16 digits, as Alipay's app ids
SELLER_ID = "2088000000000001"  # the merchant's partner id: 2088 and 12 digits


@dataclass(frozen=True)
class AlipayKeys:
    app_private_key: Path  # app_private_key.pem: the application's key (PKCS#8)
    app_public_key: Path  # app_public_key.pem: its public half, "uploaded to Alipay"
    alipay_private_key: Path  # alipay_private_key.pem: Alipay's key (the stand-in's alone)
    alipay_public_key: Path  # alipay_public_key.pem: Alipay's public key, the app checks with it


def _write(path: Path, content: bytes) -> None:
    # Written aside and renamed: a process reading the folder meanwhile never sees half a key.
    partial = path.with_suffix(".partial")
    partial.write_bytes(content)
    partial.rename(path)


def _make_pair(private_path: Path, public_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # The public half first: a private key on disk means its pair is complete.
    _write(
        public_path,
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    _write(
        private_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def ensure_keys(folder: Path) -> AlipayKeys:
    """The folder's development keys, made on the first call and read as they are afterwards
    (a second process, or a second run, signs and checks with the same keys)."""
    keys = AlipayKeys(
        app_private_key=folder / "app_private_key.pem",
        app_public_key=folder / "app_public_key.pem",
        alipay_private_key=folder / "alipay_private_key.pem",
        alipay_public_key=folder / "alipay_public_key.pem",
    )
    folder.mkdir(parents=True, exist_ok=True)
    # One maker at a time: two processes starting together must not pair one's public key
    # with the other's private key.
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for private, public in (
            (keys.app_private_key, keys.app_public_key),
            (keys.alipay_private_key, keys.alipay_public_key),
        ):
            if not (private.exists() and public.exists()):
                _make_pair(private, public)
    return keys
