"""Storage's fixtures: moto's standalone S3 server, a fresh bucket per test, Debian's nginx.

moto's server and nginx are real processes; like the contract walks they run once per
`make test` (in the PostgreSQL pass when there is one): TEST_CONTRACT=0 skips them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import pytest

from settings import S3Bucket
from storage import LocalStorage, S3Storage, Storage
from tests.live import free_port, wait_until_answering

MOTO_KEYS = ("testing-key-id", "testing-secret-key")


def skip_unless_once_a_run() -> None:
    if os.environ.get("TEST_CONTRACT") == "0":  # make test: the other database's pass has them
        pytest.skip("moto's server and nginx run once per make test (TEST_CONTRACT=1)")


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's standalone server (S3 in memory) on a free port of 127.0.0.1."""
    skip_unless_once_a_run()
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    assert server, "moto_server is missing: pip install 'moto[server]' (pyproject's dev extra)"
    port = free_port()
    folder = tmp_path_factory.mktemp("moto")
    with (folder / "moto.log").open("w+") as log:
        process = subprocess.Popen(
            [server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_answering(f"{url}/moto-api/", process, log)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def new_bucket(moto_url: str) -> S3Bucket:
    """A fresh bucket on moto, described as the settings would (path-style: moto's host is an
    address, with no bucket names under it)."""
    name = f"shuyuan-{secrets.token_hex(6)}"
    boto3.client(
        "s3",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id=MOTO_KEYS[0],
        aws_secret_access_key=MOTO_KEYS[1],
    ).create_bucket(Bucket=name)
    return S3Bucket(
        bucket=name,
        access_key_id=MOTO_KEYS[0],
        secret_access_key=MOTO_KEYS[1],
        endpoint_url=moto_url,
        region="us-east-1",
        addressing_style="path",
    )


def s3_environment(bucket: S3Bucket) -> dict[str, str]:
    """The environment `shuyuan serve` reads `bucket` from."""
    return {
        "SHUYUAN_STORAGE": "s3",
        "S3_ENDPOINT_URL": bucket.endpoint_url or "",
        "S3_BUCKET": bucket.bucket,
        "S3_REGION": bucket.region,
        "S3_ACCESS_KEY_ID": bucket.access_key_id,
        "S3_SECRET_ACCESS_KEY": bucket.secret_access_key,
        "S3_ADDRESSING_STYLE": bucket.addressing_style,
    }


@pytest.fixture(params=["local", "s3"])
async def any_storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """Each storage in turn: files under a fresh folder, then a fresh bucket on moto."""
    if request.param == "local":
        yield LocalStorage(tmp_path)
        return
    storage = S3Storage(new_bucket(request.getfixturevalue("moto_url")))
    try:
        yield storage
    finally:
        await storage.aclose()
