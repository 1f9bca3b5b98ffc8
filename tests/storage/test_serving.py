"""Uploads served from the storage: audio checked by the app, then read from disk or the bucket
by Python (Range: 206) or by nginx (X-Accel-Redirect); the public /media folder."""

from __future__ import annotations

import dataclasses
import hmac
import io
import os
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.applications import Starlette

from accounts.models import User
from community.feed import editing, podcast
from community.feed.audio import check_audio, silent_mp3
from community.feed.models import FeedItem
from composition import wire
from privacy.models import DataExport, ExportState
from settings import S3Bucket, Settings
from storage import STORAGE, LocalStorage
from tests.factories import make_member, make_user, session_cookie, token_for
from tests.live import free_port, running_server
from tests.storage.conftest import new_bucket, s3_environment
from tests.storage.nginx import NGINX, running_nginx

AUDIO = silent_mp3(20)  # about 320 KB of MP3 frames


async def members_only_audio() -> FeedItem:
    item = await editing.create_item(
        title="会员的早晨",
        body="六十秒。",
        keyword="会员早晨",
        members_only=True,
        audio=check_audio(AUDIO),
        now=datetime.now(UTC),
    )
    assert item.audio_file
    return item


@asynccontextmanager
async def app_with(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process app built for `settings` (its own storage bound for the test too)."""
    from app import create_app

    wired = wire(settings)
    with wired.wiring().bound():
        app: Starlette = create_app(
            settings, manage_database=False, background_tasks=False, wired=wired
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
        await wired.storage.aclose()


async def listen(
    client: httpx.AsyncClient, name: str, token: str, **headers: str
) -> httpx.Response:
    return await client.get(f"/feed/audio/{name}", params={"token": token}, headers=headers)


async def test_audio_is_handed_to_nginx_after_the_access_check(settings: Settings) -> None:
    async with app_with(dataclasses.replace(settings, accel_redirect="/_protected/")) as client:
        item = await members_only_audio()
        member = await podcast.podcast_token(await make_member(), settings.secret_key)
        answer = await listen(client, item.audio_file or "", member, range="bytes=0-99")
        assert answer.status_code == 200
        assert answer.content == b""
        assert answer.headers["x-accel-redirect"] == f"/_protected/local/audio/{item.audio_file}"
        assert answer.headers["content-type"] == "audio/mpeg"
        assert answer.headers["cache-control"] == "private, max-age=86400"

        stranger = await podcast.podcast_token(await make_user(), settings.secret_key)
        refused = await listen(client, item.audio_file or "", stranger)
        assert refused.status_code == 403
        assert "x-accel-redirect" not in refused.headers


async def test_a_missing_audio_file_is_404_not_a_redirect_to_nothing(settings: Settings) -> None:
    async with app_with(dataclasses.replace(settings, accel_redirect="/_protected/")) as client:
        item = await members_only_audio()
        await STORAGE.get().delete(f"audio/{item.audio_file}")
        member = await podcast.podcast_token(await make_member(), settings.secret_key)
        answer = await listen(client, item.audio_file or "", member)
        assert answer.status_code == 404
        assert "x-accel-redirect" not in answer.headers


def s3_settings(settings: Settings, bucket: S3Bucket, **changes: object) -> Settings:
    return dataclasses.replace(settings, storage="s3", s3=bucket, **changes)  # type: ignore[arg-type]


async def test_audio_uploaded_to_the_bucket_is_served_by_range(
    settings: Settings, moto_url: str
) -> None:
    bucket = new_bucket(moto_url)
    async with app_with(s3_settings(settings, bucket)) as client:
        admin = await token_for(await make_user(admin=True))
        created = await client.post(
            "/api/v1/admin/feed-items",
            data={
                "title": "桶里的声音",
                "body": "六十秒。",
                "keyword": "桶里",
                "members_only": "true",
            },
            files={"audio": ("voice.mp3", AUDIO, "audio/mpeg")},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert created.status_code == 201, created.text
        item = await FeedItem.get(keyword="桶里")
        assert item.audio_file
        # In the bucket, not on this host's disk.
        assert await STORAGE.get().get(f"audio/{item.audio_file}") == AUDIO
        assert not (settings.var_dir / "audio" / item.audio_file).exists()

        member = await podcast.podcast_token(await make_member(), settings.secret_key)
        part = await listen(client, item.audio_file, member, range="bytes=1000-1999")
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(AUDIO)}"
        assert part.content == AUDIO[1000:2000]
        tail = await listen(client, item.audio_file, member, range="bytes=-100")
        assert (tail.status_code, tail.content) == (206, AUDIO[-100:])
        whole = await listen(client, item.audio_file, member)
        assert (whole.status_code, whole.content) == (200, AUDIO)
        beyond = await listen(client, item.audio_file, member, range=f"bytes={len(AUDIO)}-")
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{len(AUDIO)}"

        stranger = await podcast.podcast_token(await make_user(), settings.secret_key)
        assert (await listen(client, item.audio_file, stranger)).status_code == 403


async def test_public_media_is_served_from_the_bucket(settings: Settings, moto_url: str) -> None:
    async with app_with(s3_settings(settings, new_bucket(moto_url))) as client:
        await STORAGE.get().put("media/products/p-1-small.jpg", b"\xff\xd8 jpeg", "image/jpeg")
        answer = await client.get("/media/products/p-1-small.jpg")
        assert (answer.status_code, answer.content) == (200, b"\xff\xd8 jpeg")
        assert answer.headers["content-type"] == "image/jpeg"
        # A replaced picture keeps its name: browsers ask again each time (304 when unchanged).
        assert answer.headers["cache-control"] == "no-cache"
        assert answer.headers["last-modified"].endswith(" GMT")
        again = await client.get(
            "/media/products/p-1-small.jpg", headers={"if-none-match": answer.headers["etag"]}
        )
        assert again.status_code == 304
        assert (await client.get("/media/products/none.jpg")).status_code == 404
        assert (await client.get("/media/../secret_key")).status_code == 404


def signed_for(url: str, method: str, bucket: S3Bucket) -> bool:
    """Whether the presigned `url`'s SigV4 signature is the one for a `method` request (the
    signature covers the method: the bucket answers 403 to any other)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = query.pop("X-Amz-Signature")
    request = AWSRequest(
        method=method, url=f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"
    )
    request.context["timestamp"] = query["X-Amz-Date"]
    auth = S3SigV4QueryAuth(
        Credentials(bucket.access_key_id, bucket.secret_access_key),
        "s3",
        bucket.region,
        expires=int(query["X-Amz-Expires"]),
    )
    expected = auth.signature(
        auth.string_to_sign(request, auth.canonical_request(request)), request
    )
    return hmac.compare_digest(expected, signature)


async def test_a_head_handed_to_nginx_fetches_an_address_signed_for_head(
    settings: Settings, moto_url: str
) -> None:
    bucket = new_bucket(moto_url)
    changed = s3_settings(settings, bucket, accel_redirect="/_protected/")
    async with app_with(changed) as client:
        item = await members_only_audio()
        member = await podcast.podcast_token(await make_member(), settings.secret_key)
        path, token = f"/feed/audio/{item.audio_file}", {"token": member}
        targets = {}
        for method in ("GET", "HEAD"):
            answer = await client.request(method, path, params=token)
            assert answer.status_code == 200
            target = answer.headers["x-accel-redirect"].removeprefix("/_protected/s3/")
            scheme, _, rest = target.partition("/")
            targets[method] = f"{scheme}://{rest}"
    assert signed_for(targets["HEAD"], "HEAD", bucket)
    assert not signed_for(targets["HEAD"], "GET", bucket)
    assert signed_for(targets["GET"], "GET", bucket)


# nginx in front of `shuyuan serve`: the whole path a podcast app's request takes.


@contextmanager
def nginx_in_front(settings: Settings, tmp_path: Path, env: dict[str, str]) -> Iterator[str]:
    if not NGINX.exists():
        if os.environ.get("TEST_REQUIRE_DEPLOY") == "1":
            pytest.fail("Debian's nginx is missing and TEST_REQUIRE_DEPLOY=1")
        pytest.skip("Debian's nginx is not installed (apt-get install nginx-light)")
    with (
        running_server(settings, env={"SHUYUAN_ACCEL_REDIRECT": "/_protected/", **env}) as app,
        running_nginx(tmp_path / "nginx", app_url=app, var_dir=settings.var_dir) as url,
    ):
        yield url


async def check_through_nginx(url: str, item: FeedItem, settings: Settings) -> None:
    name = item.audio_file or ""
    member = await podcast.podcast_token(await make_member(), settings.secret_key)
    stranger = await podcast.podcast_token(await make_user(), settings.secret_key)
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        part = await http.get(
            f"/feed/audio/{name}", params={"token": member}, headers={"range": "bytes=500-1499"}
        )
        assert part.status_code == 206, part.text
        assert part.headers["content-range"] == f"bytes 500-1499/{len(AUDIO)}"
        assert part.content == AUDIO[500:1500]
        assert part.headers["content-type"] == "audio/mpeg"
        assert "x-accel-redirect" not in part.headers
        whole = await http.get(f"/feed/audio/{name}", params={"token": member})
        assert (whole.status_code, whole.content) == (200, AUDIO)
        # nginx follows the redirect with a HEAD: the file's or the object's headers, no body.
        head = await http.head(f"/feed/audio/{name}", params={"token": member})
        assert head.status_code == 200, head.headers
        assert head.headers["content-length"] == str(len(AUDIO))
        assert head.content == b""

        refused = await http.get(f"/feed/audio/{name}", params={"token": stranger})
        assert refused.status_code == 403
        assert AUDIO[:400] not in refused.content
        anonymous = await http.get(f"/feed/audio/{name}", headers={"range": "bytes=0-99"})
        assert anonymous.status_code in (302, 303, 401)
        # The internal location answers nobody directly.
        direct = await http.get(f"/_protected/local/audio/{name}")
        assert direct.status_code == 404


async def test_nginx_serves_members_audio_from_disk_with_range(
    settings: Settings, tmp_path: Path
) -> None:
    from tests.storage.conftest import skip_unless_once_a_run

    skip_unless_once_a_run()
    assert isinstance(STORAGE.get(), LocalStorage)
    item = await members_only_audio()
    with nginx_in_front(settings, tmp_path, {}) as url:
        await check_through_nginx(url, item, settings)


async def test_nginx_serves_members_audio_from_the_bucket_with_range(
    settings: Settings, tmp_path: Path, moto_url: str
) -> None:
    bucket = new_bucket(moto_url)
    async with app_with(s3_settings(settings, bucket)):
        item = await members_only_audio()  # into the bucket
        assert await STORAGE.get().get(f"audio/{item.audio_file}") == AUDIO
    # An earlier test's file of the same name is not what nginx reads here.
    (settings.var_dir / "audio" / (item.audio_file or "")).unlink(missing_ok=True)
    with nginx_in_front(settings, tmp_path, s3_environment(bucket)) as url:
        await check_through_nginx(url, item, settings)


# Members' copies of their data: written by the worker into the bucket, downloaded from any host.


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


async def stored_copy(
    settings: Settings, bucket: S3Bucket, worker_disk: Path
) -> tuple[User, str, bytes]:
    """A member's copy written by a worker on its own disk into `bucket`: its owner, its link
    and its ZIP's bytes."""
    from privacy import export

    async with app_with(s3_settings(settings, bucket)):
        user = await make_user()
        asked = await export.request_export(user, datetime.now(UTC))
        await export.write_pending(var_dir=worker_disk, link_hours=72, now=datetime.now(UTC))
        made = await DataExport.get(id=asked.id)
        assert made.state == ExportState.READY and made.file_name
        data = await STORAGE.get().get(export.key_of(made.file_name))
    # The worker's disk keeps nothing of it.
    assert files_under(worker_disk) == []
    return user, f"/me/data/exports/{export.link_token(made.file_name)}", data


async def test_a_copy_the_worker_put_in_the_bucket_is_downloaded_from_another_host(
    settings: Settings, tmp_path: Path, moto_url: str
) -> None:
    bucket = new_bucket(moto_url)
    owner, link, data = await stored_copy(settings, bucket, tmp_path / "worker")
    assert zipfile.ZipFile(io.BytesIO(data)).namelist()[0] == "README.txt"
    # A web host whose disk is not the worker's.
    web_host = s3_settings(settings, bucket, var_dir=tmp_path / "web")
    async with app_with(web_host) as client:
        client.cookies.set(*await session_cookie(owner))
        answer = await client.get(link)
        assert (answer.status_code, answer.content) == (200, data)
        assert answer.headers["content-type"] == "application/zip"
        assert answer.headers["content-disposition"].startswith("attachment;")
        assert answer.headers["cache-control"] == "no-store"


async def test_nginx_hands_a_copy_in_the_bucket_to_its_owner(
    settings: Settings, tmp_path: Path, moto_url: str
) -> None:
    bucket = new_bucket(moto_url)
    owner, link, data = await stored_copy(settings, bucket, tmp_path / "worker")
    cookie = await session_cookie(owner)
    stranger = await session_cookie(await make_user())
    with nginx_in_front(settings, tmp_path, s3_environment(bucket)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            http.cookies.set(*cookie)
            answer = await http.get(link)
            assert (answer.status_code, answer.content) == (200, data)
            assert answer.headers["content-type"] == "application/zip"
            assert answer.headers["content-disposition"].startswith("attachment;")
            assert "x-accel-redirect" not in answer.headers
            http.cookies.set(*stranger)
            refused = await http.get(link)
            assert refused.status_code == 404
            assert data[:200] not in refused.content


async def test_a_copy_of_a_members_data_is_handed_to_nginx_after_the_owner_check(
    settings: Settings,
) -> None:
    from privacy import export

    async with app_with(dataclasses.replace(settings, accel_redirect="/_protected/")) as client:
        owner = await make_user()
        await export.request_export(owner, datetime.now(UTC))
        await export.write_pending(var_dir=settings.var_dir, link_hours=72, now=datetime.now(UTC))
        made = await DataExport.get(user_id=owner.id)
        assert made.file_name
        link = f"/me/data/exports/{export.link_token(made.file_name)}"
        client.cookies.set(*await session_cookie(owner))
        answer = await client.get(link)
        assert (answer.status_code, answer.content) == (200, b"")
        assert answer.headers["x-accel-redirect"] == f"/_protected/local/exports/{made.file_name}"
        assert answer.headers["content-disposition"].startswith("attachment;")
        client.cookies.set(*await session_cookie(await make_user()))
        refused = await client.get(link)
        assert refused.status_code == 404
        assert "x-accel-redirect" not in refused.headers


async def test_public_media_from_a_bucket_nobody_answers_for_is_503(settings: Settings) -> None:
    nowhere = S3Bucket(
        bucket="shuyuan-nowhere",
        access_key_id="key",
        secret_access_key="secret",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region="us-east-1",
        addressing_style="path",
    )
    async with app_with(s3_settings(settings, nowhere)) as client:
        answer = await client.get("/media/products/p-1-small.jpg")
        assert answer.status_code == 503
        assert "retry-after" in answer.headers


async def test_nginx_answers_a_plain_404_not_the_buckets_error_for_a_missing_object(
    settings: Settings, tmp_path: Path, moto_url: str
) -> None:
    bucket = new_bucket(moto_url)
    async with app_with(s3_settings(settings, bucket)):
        item = await members_only_audio()
        await STORAGE.get().delete(f"audio/{item.audio_file}")  # gone from the bucket
    member = await podcast.podcast_token(await make_member(), settings.secret_key)
    with nginx_in_front(settings, tmp_path, s3_environment(bucket)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            answer = await http.get(f"/feed/audio/{item.audio_file}", params={"token": member})
    assert answer.status_code == 404
    assert answer.text == "Not Found\n"
    assert bucket.bucket not in answer.text and "NoSuchKey" not in answer.text
