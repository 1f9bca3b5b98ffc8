"""Backups that restore (deploy/backup/, backups.py, docs/backups.md): a database and a bucket
filled by the app's own services are backed up with the operator's scripts, destroyed, restored,
and found whole; and point-in-time recovery, on a private PostgreSQL cluster this test starts
(never the machine's shared server), brings back the moment before a mistake.

PostgreSQL only. Needs PostgreSQL 15's tools (and root, to run the private cluster as
`postgres`): skipped without them unless TEST_REQUIRE_DEPLOY=1 (CI), where that fails."""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import boto3
import httpx
import pytest
from PIL import Image
from tortoise.context import TortoiseContext

from community.feed import editing
from community.feed.audio import check_audio, silent_mp3
from composition import wire
from db import tortoise_config
from membership import services as membership
from payments.pay import PaymentChoice
from payments.provider import PaymentProvider
from settings import S3Bucket, Settings
from store import catalog, catalogue
from store import services as store
from tests.conftest import postgres_admin_url
from tests.factories import bearer, make_user, make_window, paid_order, token_for
from tests.live import ROOT, free_port, running_server_process, server_environment
from tests.storage.conftest import MOTO_KEYS, moto_url, new_bucket, s3_environment

__all__ = ["moto_url"]  # tests/storage's fixture: moto's server, once a run
pytestmark = pytest.mark.postgres_only

BACKUP = ROOT / "deploy" / "backup"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
TOOLS = ("pg_dump", "pg_restore", "psql", "pg_basebackup", "pg_archivecleanup", "initdb", "pg_ctl")
VOICE = silent_mp3(4)


@pytest.fixture(scope="module", autouse=True)
def deploy_programs() -> None:
    """In place of tests/deploy's (nginx and PgBouncer, which these tests do not use):
    PostgreSQL's own programs, and root to run a private cluster as `postgres`."""
    missing = [str(PG_BIN / tool) for tool in TOOLS if not (PG_BIN / tool).exists()]
    if missing:
        message = f"{', '.join(missing)} missing (apt install postgresql-15)"
    elif os.geteuid() != 0 or shutil.which("runuser") is None:
        message = "the private cluster runs as postgres through runuser: run as root"
    else:
        return
    if os.environ.get("TEST_REQUIRE_DEPLOY") == "1":
        pytest.fail(f"{message} and TEST_REQUIRE_DEPLOY=1")
    pytest.skip(message)


def run(command: list[str | Path], *, env: dict[str, str] | None = None) -> str:
    """`command` with PostgreSQL 15's programs first on PATH; its output, or a failure showing
    it."""
    environment = {**os.environ, **(env or {})}
    environment["PATH"] = f"{PG_BIN}:{environment['PATH']}"
    done = subprocess.run(
        [str(part) for part in command],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


def as_postgres(command: list[str | Path], **env: str) -> str:
    """`command` run as the `postgres` user (PostgreSQL refuses root), with `env`."""
    settings = [f"{name}={value}" for name, value in env.items()]
    return run(["runuser", "-u", "postgres", "--", "env", f"PATH={PG_BIN}:/usr/bin:/bin",
                *settings, *command])  # fmt: skip


def libpq(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def with_database(url: str, name: str) -> str:
    return f"{url.rpartition('/')[0]}/{name}"


@asynccontextmanager
async def own_databases(admin_url: str) -> AsyncIterator[list[str]]:
    """Names of databases this test makes on the shared server (append them): dropped at the
    end, whatever happened."""
    made: list[str] = []
    try:
        yield made
    finally:
        admin = await asyncpg.connect(libpq(admin_url))
        try:
            for name in made:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def create_database(admin_url: str, name: str) -> str:
    admin = await asyncpg.connect(libpq(admin_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return with_database(admin_url, name)


def copy_schema(from_url: str, to_url: str, folder: Path) -> None:
    """The run's migrated (and emptied) database copied into `to_url`: the app's schema as
    `shuyuan migrate` leaves it, in a second instead of the twenty migrating again takes."""
    dump = folder / f"schema-{secrets.token_hex(3)}.dump"
    run(["pg_dump", "--format=custom", f"--file={dump}", f"--dbname={from_url}"])
    run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={to_url}",
         dump])  # fmt: skip
    dump.unlink()


@asynccontextmanager
async def orm_on(url: str) -> AsyncIterator[None]:
    """The models on the database at `url` inside the block (this task's own Tortoise
    context), while the run's database stays the fallback everywhere else."""
    async with TortoiseContext() as context:
        await context.init(config=tortoise_config(url))
        try:
            yield
        finally:
            await context.close_connections()


async def contents(url: str) -> dict[str, list[str]]:
    """Every row of every table (the app's and the job queue's), as sorted JSON text, and
    where each sequence stands: two databases with equal contents hold the same data."""
    connection = await asyncpg.connect(libpq(url))
    try:
        tables = await connection.fetch(
            "SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        )
        found = {}
        for table in tables:
            rows = await connection.fetch(f"SELECT to_jsonb(t)::text AS row FROM {table['name']} t")
            found[table["name"]] = sorted(row["row"] for row in rows)
        sequences = await connection.fetch(
            "SELECT format('%I.%I', schemaname, sequencename) AS name, last_value FROM pg_sequences"
        )
        found["sequences"] = sorted(f"{row['name']}={row['last_value']}" for row in sequences)
        return found
    finally:
        await connection.close()


def bucket_objects(bucket: S3Bucket) -> dict[str, tuple[bytes, str]]:
    """Every object of the bucket: its bytes and its type."""
    s3 = s3_client(bucket)
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket.bucket):
        for item in page.get("Contents", []):
            answer = s3.get_object(Bucket=bucket.bucket, Key=item["Key"])
            found[item["Key"]] = (answer["Body"].read(), answer["ContentType"])
    return found


def s3_client(bucket: S3Bucket):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=bucket.endpoint_url,
        region_name=bucket.region,
        aws_access_key_id=MOTO_KEYS[0],
        aws_secret_access_key=MOTO_KEYS[1],
    )


def jpeg(colour: str, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


async def fill(settings: Settings, provider: PaymentProvider) -> dict[str, object]:
    """A shop's worth of what must survive, made by the app's services: an order paid and
    delivered, a membership paid, a voice with its audio and a product with its picture in
    the bucket, and an API token of the buyer."""
    now = datetime.now(UTC)
    product = await catalog.create_product(
        title="《论语》线装本", description="函套", category="书", price_fen=8_800, stock=5, now=now
    )
    await catalogue.save_product_image(
        product_id=product.id,
        resized={"large": jpeg("red", (120, 90)), "thumb": jpeg("blue", (40, 30))},
        now=now,
    )
    buyer = await make_user()
    order = await paid_order(provider, settings, buyer, product.id)
    await store.mark_shipped(order_id=order.id, carrier="zto", tracking_number="7531000123")
    await store.mark_delivered(order_id=order.id)
    window = await make_window(now=now)
    member = await make_user()
    held = await membership.enroll(window_id=window.id, user=member, now=now)
    paid = await membership.pay_enrollment(
        provider=provider,
        enrollment_id=held.id,
        user=member,
        now=now,
        choice=PaymentChoice(payment_method="pm_card_visa"),
    )
    assert paid.outcome == "paid", paid
    item = await editing.create_item(
        title="今天读《学而》", body="晨读。", keyword="学而", audio=check_audio(VOICE), now=now
    )
    return {
        "order_id": order.id,
        "token": await token_for(buyer),
        "audio": item.audio_file,
        "picture": f"/media/products/product-{product.id}-large.jpg",
    }


async def test_a_dump_and_a_storage_snapshot_bring_back_every_order_payment_membership_and_upload(
    settings: Settings, database_url: str, provider: PaymentProvider, moto_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    bucket = new_bucket(moto_url)
    in_bucket = replace(settings, storage="s3", s3=bucket)
    backups = tmp_path / "backups"
    admin_url = postgres_admin_url()
    async with own_databases(admin_url) as made:
        name = f"shuyuan_backup_{os.getpid()}_{secrets.token_hex(3)}"
        made += [name, f"{name}_restored"]
        source_url = await create_database(admin_url, name)
        copy_schema(database_url, source_url, tmp_path)
        wired = wire(in_bucket)
        try:
            with wired.wiring().bound():
                async with orm_on(source_url):
                    made_there = await fill(in_bucket, provider)
        finally:
            await wired.storage.aclose()
        before = await contents(source_url)
        objects = bucket_objects(bucket)
        for table, least in [("public.store_order", 1), ("public.payments_payment", 2),
                             ("public.membership_enrollment", 1), ("public.membership_grant", 1),
                             ("public.community_feed_item", 1)]:  # fmt: skip
            assert len(before[table]) >= least, f"nothing in {table}: the backup proves nothing"
        assert len(objects) == 3  # the voice, the picture's two sizes

        # The nightly backups, as the timers run them; an old dump beyond the 30 days goes.
        dumps = backups / "dumps"
        dumps.mkdir(parents=True)
        old, recent = (
            dumps / f"shuyuan-{(datetime.now(UTC) - timedelta(days=days)):%Y%m%dT%H%M%SZ}.dump"
            for days in (31, 29)
        )
        old.write_bytes(b"a dump from 31 days ago")
        recent.write_bytes(b"a dump from 29 days ago")
        run([BACKUP / "dump-database.sh"], env={"BACKUP_DATABASE_URL": source_url,
                                                "BACKUP_DIR": str(backups)})  # fmt: skip
        assert not old.exists() and recent.exists()
        environment = {**server_environment(in_bucket), **s3_environment(bucket)}
        stored = run([sys.executable, "-m", "cli", "backup-storage", "--to", backups / "storage"],
                     env=environment)  # fmt: skip
        assert "3 objects, 3 copied" in stored

        # The disaster: the database dropped, the bucket emptied and deleted.
        admin = await asyncpg.connect(libpq(admin_url))
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        s3 = s3_client(bucket)
        for key in objects:
            s3.delete_object(Bucket=bucket.bucket, Key=key)
        s3.delete_bucket(Bucket=bucket.bucket)
        s3.create_bucket(Bucket=bucket.bucket)

        # The restore, as docs/backups.md tells it.
        restored_url = await create_database(admin_url, f"{name}_restored")
        dump = max(dumps.glob("shuyuan-*.dump"))
        run([BACKUP / "restore-dump.sh", dump, restored_url])
        put_back = run([sys.executable, "-m", "cli", "restore-storage", "--from",
                        backups / "storage"], env=environment)  # fmt: skip
        assert "3 objects, 3 written" in put_back

        assert await contents(restored_url) == before
        assert bucket_objects(bucket) == objects
        # The app on the restored database and bucket: the buyer's token, order and uploads.
        restored = replace(in_bucket, database_url=restored_url)
        with running_server_process(restored, env=s3_environment(bucket)) as (base_url, _):
            async with httpx.AsyncClient(base_url=base_url, timeout=20) as http:
                order = await http.get(f"/api/v1/orders/{made_there['order_id']}",
                                       headers=bearer(str(made_there["token"])))  # fmt: skip
                assert order.status_code == 200, order.text
                assert (order.json()["status"], order.json()["total_fen"]) == ("delivered", 8_800)
                voice = await http.get(f"/feed/audio/{made_there['audio']}")
                assert (voice.status_code, voice.content) == (200, VOICE)
                picture = await http.get(str(made_there["picture"]))
                assert picture.status_code == 200
                assert picture.content == objects[str(made_there["picture"]).lstrip("/")][0]


class Cluster:
    """A private PostgreSQL 15 cluster in `folder`, run as `postgres` on a free port of
    127.0.0.1, archiving its WAL with deploy/backup/archive-wal.sh."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.running: list[Path] = []

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create(self, data: Path) -> None:
        as_postgres([PG_BIN / "initdb", "-D", data, "--auth=trust", "-U", "postgres",
                     "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"])  # fmt: skip
        archive = f"{BACKUP / 'archive-wal.sh'} %p %f {self.folder / 'wal'}"
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.folder}'\n"
                "wal_level = replica\narchive_mode = on\n"
                f"archive_command = '{archive}'\n"
                "fsync = off\nfull_page_writes = on\n"
            )

    def start(self, data: Path) -> None:
        self.running.append(data)
        as_postgres([PG_BIN / "pg_ctl", "-D", data, "-l", data.with_suffix(".log"), "-w",
                     "-t", "30", "start"])  # fmt: skip

    def stop(self, data: Path, mode: str = "fast") -> None:
        as_postgres([PG_BIN / "pg_ctl", "-D", data, "-m", mode, "-w", "stop"])
        self.running.remove(data)

    def stop_all(self) -> None:
        for data in list(self.running):
            with suppress(AssertionError):
                self.stop(data, "immediate")


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A folder postgres owns, with the cluster's data, its WAL archive and its backups; every
    server started in it is stopped at the end, and the folder deleted."""
    folder = Path(tempfile.mkdtemp(prefix="shuyuan-pitr-"))
    folder.chmod(0o755)
    (folder / "wal").mkdir()
    (folder / "backups").mkdir()
    shutil.chown(folder, "postgres", "postgres")
    for sub in ("wal", "backups"):
        shutil.chown(folder / sub, "postgres", "postgres")
    cluster = Cluster(folder)
    try:
        yield cluster
    finally:
        cluster.stop_all()
        shutil.rmtree(folder, ignore_errors=True)


async def emails(url: str) -> set[str]:
    connection = await asyncpg.connect(libpq(url))
    try:
        rows = await connection.fetch("SELECT email FROM accounts_user")
        return {row["email"] for row in rows}
    finally:
        await connection.close()


async def promoted(url: str, seconds: float = 20) -> None:
    """Wait until the restored server has replayed to its target and opened for writing."""
    deadline = time.monotonic() + seconds
    while True:
        connection = await asyncpg.connect(libpq(url))
        try:
            if not await connection.fetchval("SELECT pg_is_in_recovery()"):
                return
        finally:
            await connection.close()
        assert time.monotonic() < deadline, "the restored server is still recovering"
        await asyncio.sleep(0.1)


async def test_point_in_time_recovery_brings_back_the_moment_before_a_mistake_and_not_the_mistake(
    database_url: str, tmp_path: Path
) -> None:
    with private_cluster() as cluster:
        data = cluster.folder / "data"
        cluster.create(data)
        cluster.start(data)
        admin = await asyncpg.connect(libpq(cluster.url()))
        try:
            await admin.execute("CREATE DATABASE shuyuan")
        finally:
            await admin.close()
        url = cluster.url("shuyuan")
        copy_schema(database_url, url, tmp_path)
        backups = cluster.folder / "backups"
        wal = cluster.folder / "wal"
        # A base backup of 31 days ago, which kept the archive from the first segment on.
        old = backups / "base" / f"{datetime.now(UTC) - timedelta(days=31):%Y%m%dT%H%M%SZ}"
        old.mkdir(parents=True)
        (old / "START_WAL").write_text("000000010000000000000001\n")
        for made in (old.parent, old, old / "START_WAL"):
            shutil.chown(made, "postgres", "postgres")
        as_postgres([BACKUP / "base-backup.sh"], BACKUP_DATABASE_URL=cluster.url(),
                    BACKUP_DIR=str(backups), BACKUP_WAL_DIR=str(wal))  # fmt: skip
        (base,) = (backups / "base").iterdir()  # the old one deleted
        # The archive trimmed to what the kept backup needs (the timeline left aside).
        start = (base / "START_WAL").read_text().strip()
        segments = [path.name for path in wal.iterdir() if len(path.name) == 24]
        assert segments and min(name[8:] for name in segments) >= start[8:]
        assert start[8:] > "0000000000000001", "nothing older was there to trim"

        connection = await asyncpg.connect(libpq(url))
        try:
            async with orm_on(url):
                await make_user(email="before@example.cn")
            moment = await connection.fetchval("SELECT clock_timestamp()")
            await asyncio.sleep(0.05)
            async with orm_on(url):
                await make_user(email="between@example.cn")
            await connection.execute("SELECT pg_create_restore_point('before-the-mistake')")
            async with orm_on(url):
                await make_user(email="after@example.cn")
            await connection.execute("TRUNCATE accounts_user CASCADE")  # the mistake
            last = await connection.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
            deadline = time.monotonic() + 15
            while (await connection.fetchval(
                "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver"
            )) < last:  # fmt: skip
                assert time.monotonic() < deadline, "the WAL was not archived"
                await asyncio.sleep(0.1)
        finally:
            await connection.close()
        cluster.stop(data)

        # To the named point: the two made before it, not the one after, not the mistake.
        by_name = cluster.folder / "by-name"
        as_postgres([BACKUP / "restore-pitr.sh", base, wal, by_name,
                     "--name", "before-the-mistake"])  # fmt: skip
        cluster.start(by_name)
        await promoted(url)
        assert await emails(url) == {"before@example.cn", "between@example.cn"}
        cluster.stop(by_name)

        # To a time: only the first. (Earlier than the last restore's point, so the timeline
        # that restore began is not in the way: docs/backups.md.)
        by_time = cluster.folder / "by-time"
        as_postgres([BACKUP / "restore-pitr.sh", base, wal, by_time,
                     "--time", moment.isoformat()])  # fmt: skip
        cluster.start(by_time)
        await promoted(url)
        assert await emails(url) == {"before@example.cn"}
        cluster.stop(by_time)
