"""The uploads' snapshots (backups.py): what a second snapshot reads again, what is deleted after
30 days, what a restore refuses; in a folder and in another bucket on moto's server.
tests/deploy/test_backups.py runs them through `shuyuan` in a whole backup and restore."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import backups
from backups import BackupError, Bucket, Folder, back_up, destination, prune, restore, stamp
from settings import S3Bucket, Settings
from storage import LocalStorage, S3Storage
from tests.storage.conftest import new_bucket

NOW = datetime(2025, 3, 1, 3, 10, tzinfo=UTC)


async def fill(storage: LocalStorage | S3Storage) -> None:
    await storage.put("audio/1-abc.mp3", b"voice" * 100, "audio/mpeg")
    await storage.put("media/products/product-1-large.jpg", b"\xff\xd8picture", "image/jpeg")
    await storage.put("support/7/a.png", b"private picture", "image/png")


async def test_a_second_snapshot_reads_only_what_changed_and_links_the_rest(
    tmp_path: Path,
) -> None:
    source = LocalStorage(tmp_path / "var")
    await fill(source)
    place = Folder(tmp_path / "backups")
    first = await back_up(source, place, now=NOW)
    assert (first.objects, first.copied, first.unchanged) == (3, 3, 0)
    await source.put("audio/1-abc.mp3", b"new voice", "audio/mpeg")
    second = await back_up(source, place, now=NOW + timedelta(days=1))
    assert (second.objects, second.copied, second.unchanged) == (3, 1, 2)
    old, new = (tmp_path / "backups" / name for name in (first.snapshot, second.snapshot))
    picture = "media/products/product-1-large.jpg"
    assert (old / picture).stat().st_ino == (new / picture).stat().st_ino  # one file, linked
    assert (old / "audio/1-abc.mp3").read_bytes() == b"voice" * 100
    assert (tmp_path / "backups").stat().st_mode & 0o077 == 0  # the owner's alone

    # Each snapshot restores as it was, into an empty storage.
    for snapshot, voice in ((first.snapshot, b"voice" * 100), (None, b"new voice")):
        target = LocalStorage(tmp_path / f"restored-{snapshot}")
        done = await restore(place, target, snapshot=snapshot)
        assert done.objects == 3
        assert await target.get("audio/1-abc.mp3") == voice
        assert await target.get("support/7/a.png") == b"private picture"


async def test_snapshots_older_than_the_retention_and_unfinished_ones_are_deleted(
    tmp_path: Path,
) -> None:
    source = LocalStorage(tmp_path / "var")
    await fill(source)
    place = Folder(tmp_path / "backups")
    for days in (31, 29):
        await back_up(source, place, now=NOW - timedelta(days=days))
    cut_short = tmp_path / "backups" / stamp(NOW - timedelta(days=2))
    (cut_short / "audio").mkdir(parents=True)  # a run killed before its manifest
    (cut_short / "audio" / "1-abc.mp3").write_bytes(b"voi")
    done = await back_up(source, place, now=NOW)
    assert done.deleted == (stamp(NOW - timedelta(days=31)), cut_short.name)
    assert await place.finished() == [stamp(NOW - timedelta(days=29)), stamp(NOW)]
    assert not cut_short.exists()
    # A shorter retention deletes more: all but tonight's with a day.
    assert await prune(place, now=NOW, keep_days=1) == (stamp(NOW - timedelta(days=29)),)
    assert await place.finished() == [stamp(NOW)]
    with pytest.raises(BackupError, match="1 to 30"):
        await back_up(source, place, now=NOW + timedelta(days=1), keep_days=31)


async def test_a_damaged_object_is_not_restored(tmp_path: Path) -> None:
    source = LocalStorage(tmp_path / "var")
    await fill(source)
    place = Folder(tmp_path / "backups")
    done = await back_up(source, place, now=NOW)
    (tmp_path / "backups" / done.snapshot / "audio" / "1-abc.mp3").write_bytes(b"rot" * 100)
    target = LocalStorage(tmp_path / "restored")
    with pytest.raises(BackupError, match=r"audio/1-abc\.mp3 .* is damaged"):
        await restore(place, target, snapshot=done.snapshot)
    assert not await target.exists("audio/1-abc.mp3")


def test_a_snapshot_goes_neither_inside_the_storage_nor_into_the_uploads_bucket(
    settings: Settings, tmp_path: Path
) -> None:
    local = replace(settings, storage="local", var_dir=tmp_path / "var")
    with pytest.raises(BackupError, match="inside the storage"):
        destination(str(tmp_path / "var" / "backups"), local)
    assert isinstance(destination(str(tmp_path / "backups"), local), Folder)
    with pytest.raises(BackupError, match="S3_"):
        destination("s3://shuyuan-backups/nightly", local)
    bucket = S3Bucket(bucket="shuyuan", access_key_id="k", secret_access_key="s")
    in_bucket = replace(settings, storage="s3", s3=bucket)
    with pytest.raises(BackupError, match="another bucket"):
        destination("s3://shuyuan/backups", in_bucket)


async def test_snapshots_in_another_bucket_copy_inside_it_and_restore(
    moto_url: str, settings: Settings
) -> None:
    uploads, elsewhere = new_bucket(moto_url), new_bucket(moto_url)
    source = S3Storage(uploads)
    in_bucket = replace(settings, storage="s3", s3=uploads)
    place = destination(f"s3://{elsewhere.bucket}/shuyuan/nightly", in_bucket)
    assert isinstance(place, Bucket)
    target = S3Storage(replace(uploads, bucket=new_bucket(moto_url).bucket))
    try:
        await fill(source)
        first = await back_up(source, place, now=NOW - timedelta(days=31))
        second = await back_up(source, place, now=NOW)
        assert (second.copied, second.unchanged) == (0, 3)  # copied inside the bucket
        assert second.deleted == (first.snapshot,)
        assert await place.finished() == [second.snapshot]
        listed = await place.store.keys("shuyuan/nightly/")
        assert listed == sorted(
            [f"shuyuan/nightly/{second.snapshot}.json"]
            + [f"shuyuan/nightly/{second.snapshot}/{key}" for key in await source.keys("")]
        )
        done = await restore(place, target)
        assert (done.objects, done.copied) == (3, 3)
        stored = await target.stat("media/products/product-1-large.jpg")
        assert stored is not None and stored.content_type == "image/jpeg"
        assert await target.get("audio/1-abc.mp3") == b"voice" * 100
        again = await restore(place, target)  # what is there already is not written again
        assert (again.copied, again.unchanged) == (0, 3)
    finally:
        for storage in (source, target, place.store):
            await storage.aclose()


def test_the_retention_never_exceeds_the_privacy_promise() -> None:
    privacy = (Path(__file__).resolve().parents[2] / "docs" / "privacy.md").read_text()
    assert "kept at most **30 days**" in privacy
    assert backups.MAX_KEEP_DAYS == 30
