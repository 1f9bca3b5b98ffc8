"""What every storage does, run against files on disk and a bucket on moto's S3 server."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest

from errors import ServiceUnavailable
from settings import S3Bucket
from storage import (
    MAX_KEY_LENGTH,
    InvalidKey,
    LocalStorage,
    NotStored,
    S3Storage,
    Storage,
    check_key,
)
from tests.live import free_port
from tests.storage.conftest import MOTO_KEYS, new_bucket

AUDIO = bytes(range(256)) * 1000  # 256,000 bytes, each position's value known


async def read_range(storage: Storage, key: str, start: int, end: int) -> bytes:
    return b"".join([chunk async for chunk in storage.open_range(key, start, end)])


async def test_a_stored_object_reads_back_whole(any_storage: Storage) -> None:
    await any_storage.put("audio/1-abc.mp3", AUDIO, "audio/mpeg")
    assert await any_storage.get("audio/1-abc.mp3") == AUDIO


async def test_a_stored_object_has_its_size_and_exists(any_storage: Storage) -> None:
    await any_storage.put("invoices/7.pdf", b"%PDF-1.7 tiny", "application/pdf")
    assert await any_storage.exists("invoices/7.pdf")
    assert await any_storage.size("invoices/7.pdf") == len(b"%PDF-1.7 tiny")
    stored = await any_storage.stat("invoices/7.pdf")
    assert stored is not None and stored.etag


async def test_a_range_reads_exactly_those_bytes(any_storage: Storage) -> None:
    await any_storage.put("audio/2.mp3", AUDIO, "audio/mpeg")
    assert await read_range(any_storage, "audio/2.mp3", 1000, 1999) == AUDIO[1000:2000]
    # Across several chunks, to the last byte.
    assert await read_range(any_storage, "audio/2.mp3", 3, len(AUDIO) - 1) == AUDIO[3:]


async def test_putting_again_replaces_the_object(any_storage: Storage) -> None:
    await any_storage.put("podcast/artwork.jpg", b"first", "image/jpeg")
    await any_storage.put("podcast/artwork.jpg", b"second", "image/jpeg")
    assert await any_storage.get("podcast/artwork.jpg") == b"second"


async def test_a_deleted_object_is_gone_and_deleting_again_is_quiet(any_storage: Storage) -> None:
    await any_storage.put("support/a-large.jpg", b"x", "image/jpeg")
    await any_storage.delete("support/a-large.jpg")
    await any_storage.delete("support/a-large.jpg")
    assert not await any_storage.exists("support/a-large.jpg")
    assert await any_storage.stat("support/a-large.jpg") is None


async def test_a_missing_object_is_not_stored(any_storage: Storage) -> None:
    with pytest.raises(NotStored):
        await any_storage.get("audio/none.mp3")
    with pytest.raises(NotStored):
        await any_storage.size("audio/none.mp3")
    with pytest.raises(NotStored):
        await read_range(any_storage, "audio/none.mp3", 0, 9)


async def test_keys_lists_what_starts_with_a_prefix(any_storage: Storage) -> None:
    for key in ("media/avatars/user-3-v1-small.jpg", "media/avatars/user-3-v1-large.jpg"):
        await any_storage.put(key, b"jpeg", "image/jpeg")
    await any_storage.put("media/avatars/user-30-v1-small.jpg", b"jpeg", "image/jpeg")
    assert await any_storage.keys("media/avatars/user-3-") == [
        "media/avatars/user-3-v1-large.jpg",
        "media/avatars/user-3-v1-small.jpg",
    ]
    assert await any_storage.keys("media/nothing/") == []


async def test_a_moved_object_has_its_new_key_only(any_storage: Storage) -> None:
    await any_storage.put("media/avatars/waiting.jpg", b"jpeg", "image/jpeg")
    await any_storage.move("media/avatars/waiting.jpg", "media/avatars/shown.jpg")
    assert await any_storage.get("media/avatars/shown.jpg") == b"jpeg"
    assert not await any_storage.exists("media/avatars/waiting.jpg")
    await any_storage.move("media/avatars/waiting.jpg", "media/avatars/other.jpg")  # quiet


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../secret_key",
        "audio/../../etc/passwd",
        "/audio/1.mp3",
        "audio//1.mp3",
        "audio/1.mp3/",
        "audio/.hidden",
        "audio/1 2.mp3",
        "audio/1%2F.mp3",
        "audio/1?.mp3",
        "audio\\1.mp3",
        "a" * (MAX_KEY_LENGTH + 1),
    ],
)
def test_a_key_outside_the_allowed_shape_is_refused(key: str) -> None:
    with pytest.raises(InvalidKey):
        check_key(key)


async def test_every_call_refuses_a_bad_key(any_storage: Storage) -> None:
    with pytest.raises(InvalidKey):
        await any_storage.put("../x", b"x", "text/plain")
    with pytest.raises(InvalidKey):
        await any_storage.get("a/../../x")
    with pytest.raises(InvalidKey):
        await any_storage.delete("..")


async def test_a_bucket_nobody_answers_for_is_unavailable_not_an_error() -> None:
    # Nothing listens on the port: botocore's EndpointConnectionError, after its retries.
    storage = S3Storage(
        S3Bucket(
            bucket="shuyuan-nowhere",
            access_key_id=MOTO_KEYS[0],
            secret_access_key=MOTO_KEYS[1],
            endpoint_url=f"http://127.0.0.1:{free_port()}",
            region="us-east-1",
            addressing_style="path",
        )
    )
    try:
        with pytest.raises(ServiceUnavailable):
            await storage.stat("media/a.jpg")
        with pytest.raises(ServiceUnavailable):
            await storage.get("media/a.jpg")
        with pytest.raises(ServiceUnavailable):
            await storage.put("media/a.jpg", b"x", "image/jpeg")
        with pytest.raises(ServiceUnavailable):
            await storage.keys("media/")
    finally:
        await storage.aclose()


async def test_a_bucket_that_refuses_is_unavailable_not_missing(moto_url: str) -> None:
    # A bucket that is not there (or keys it does not accept): the bucket's error, not NotStored.
    refusing = dataclasses.replace(new_bucket(moto_url), bucket="shuyuan-not-made")
    storage = S3Storage(refusing)
    try:
        with pytest.raises(ServiceUnavailable):
            await storage.get("media/a.jpg")
        with pytest.raises(ServiceUnavailable):
            await storage.put("media/a.jpg", b"x", "image/jpeg")
        with pytest.raises(ServiceUnavailable):
            await storage.keys("media/")
    finally:
        await storage.aclose()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_support_pictures_folder_on_disk_is_the_apps_alone(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "var")
    await storage.put("support/0a1b-small.jpg", b"\xff\xd8", "image/jpeg")
    assert mode_of(tmp_path / "var" / "support") == 0o700
