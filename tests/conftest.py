"""Shared fixtures: one real database per test run (SQLite, or PostgreSQL), the real app over ASGI.

The database is chosen by TEST_DATABASE (sqlite, the default, or postgres); PostgreSQL is reached
through TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres), where the suite
creates its own database and drops it at the end.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient

from app import create_app
from cli import migrate
from composition import AppWiring, wire
from db import table_name, tortoise_config
from devserver import alipay_keys
from devserver.alipay_keys import AlipayKeys
from devserver.wechatpay_keys import WechatPayKeys, ensure_keys
from payments.provider import PaymentProvider
from payments.services import make_provider
from settings import (
    AlipayAccount,
    Settings,
    SmsAccount,
    WechatApp,
    WechatPayAccount,
    dev_alipay,
    dev_wechat_pay,
)
from tests.factories import PASSWORD
from tests.live import stand_in
from web.logs import JsonLines

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32


def database_kind() -> str:
    kind = os.environ.get("TEST_DATABASE", "sqlite")
    if kind not in ("sqlite", "postgres"):
        raise pytest.UsageError(f"TEST_DATABASE must be sqlite or postgres, not {kind!r}")
    return kind


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def pytest_report_header() -> str:
    return f"shuyuan test database: {database_kind()}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_contract = pytest.mark.skip(
        reason="the contract walks run once per make test (TEST_CONTRACT=1), on PostgreSQL "
        "when present"
    )
    skip_postgres = pytest.mark.skip(
        reason="needs PostgreSQL (TEST_DATABASE=postgres); make test runs it"
    )
    for item in items:
        if "contract" in item.keywords and os.environ.get("TEST_CONTRACT") != "1":
            item.add_marker(skip_contract)
        if "postgres_only" in item.keywords and database_kind() != "postgres":
            item.add_marker(skip_postgres)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
async def empty_database(tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the kind under test, of the test's own (never the run's): for a
    process that migrates one from nothing (an old release's hosts, a migration probe)."""
    if database_kind() == "sqlite":
        yield f"sqlite://{tmp_path}/empty.sqlite3"
        return
    admin_url = postgres_admin_url().replace("postgres://", "postgresql://", 1)
    name = f"shuyuan_empty_{os.getpid()}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield _with_database(postgres_admin_url(), name)
    finally:
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A fresh database for this run, migrated with the checked-in migrations."""
    if database_kind() == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        yield f"sqlite://{path}"
        return
    admin_url = postgres_admin_url()
    name = f"shuyuan_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        # Our own database's setting, not the server's: a commit returns before its WAL is on
        # disk. A crash could lose the last commits of a run that is thrown away anyway.
        await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await admin.close()
    try:
        yield _with_database(admin_url, name)
    finally:
        admin = await asyncpg.connect(admin_url.replace("postgres://", "postgresql://", 1))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real localstripe process for this run, on a free port, its store in memory only."""
    folder = tmp_path_factory.mktemp("localstripe")
    with stand_in("localstripe", "--quiet", probe="/js.stripe.com/v3/", log_folder=folder) as url:
        yield url


# The WeChat apps and the SMS gateway's key of the stand-ins every run starts (as `make run`
# does): the app signs people in through them with its production client code.
WECHAT_OFFICIAL = WechatApp("wx0fficia1000001", "official-test-secret")
WECHAT_WEBSITE = WechatApp("wxwebsite00000001", "website-test-secret")
SMS_KEY = ("LTAI-test", "test-sms-secret")
SMS_SIGN = "书院"
SMS_TEMPLATE = "SMS_000001"
TENCENT_SMS_TEMPLATE = "1000001"


@pytest.fixture(scope="session")
def wechat_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The WeChat sign-in stand-in (devserver/wechat.py) with the official account and the
    website app, both bound to one Open Platform account (one unionid per person)."""
    folder = tmp_path_factory.mktemp("wechat")
    arguments = []
    for kind, app in (("official", WECHAT_OFFICIAL), ("website", WECHAT_WEBSITE)):
        arguments += ["--app", f"{kind}:{app.app_id}:{app.secret}"]
    with stand_in("wechat", *arguments, probe="/avatar/probe/132", log_folder=folder) as url:
        yield url


@pytest.fixture(scope="session")
def sms_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The SMS stand-in (devserver/sms.py) and the folder it writes each message to. Its own
    per-number limits are off: the app's limits are what the tests look at."""
    folder = tmp_path_factory.mktemp("sms")
    arguments = [
        "--folder", str(folder),
        "--access-key", ":".join(SMS_KEY),
        "--sign", SMS_SIGN,
        "--template", f"{SMS_TEMPLATE}=您的验证码为${{code}}，5分钟内有效。",
        "--template", f"{TENCENT_SMS_TEMPLATE}=您的验证码为{{1}}，{{2}}分钟内有效。",
        "--flow-control", "off",
    ]  # fmt: skip
    with stand_in("sms", *arguments, probe="/_messages", log_folder=folder.parent) as url:
        yield url.removeprefix("http://"), folder


@dataclass(frozen=True)
class WechatPayStandIn:
    """This run's WeChat Pay stand-in (devserver/wechatpay.py), its keys, and the merchant the
    app pays with through it (the development one, keys in `keys.folder`)."""

    url: str
    keys: WechatPayKeys
    account: WechatPayAccount

    def settings(self, settings: Settings, **changes: Any) -> Settings:
        """`settings` paying WeChat Pay directly through the stand-in."""
        changes.setdefault(
            "providers", with_provider(settings.providers, "wechat_pay", "wechatpay")
        )
        return dataclasses.replace(
            settings, wechat_pay=self.account, wechatpay_api_base=self.url, **changes
        )


def with_provider(
    providers: tuple[tuple[str, str], ...], method: str, provider: str
) -> tuple[tuple[str, str], ...]:
    """Settings.providers with `method` going to `provider`."""
    return tuple({**dict(providers), method: provider}.items())


@pytest.fixture(scope="session")
def wechatpay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WechatPayStandIn]:
    """The WeChat Pay API v3 stand-in for this run, in public-key mode, taking H5 buyers sent
    from 127.0.0.1, localhost and testserver."""
    folder = tmp_path_factory.mktemp("wechatpay")
    keys = ensure_keys(folder)
    arguments = ["--keys", str(folder), "--quiet"]
    for host in ("127.0.0.1", "localhost", "testserver"):
        arguments += ["--h5-domain", host]
    with stand_in("wechatpay", *arguments, probe="/_control/health", log_folder=folder) as url:
        yield WechatPayStandIn(url, keys, dev_wechat_pay(folder))


@dataclass(frozen=True)
class AlipayStandIn:
    """This run's Alipay stand-in (devserver/alipay.py), its keys, and the application the
    app pays with through it (the development one, keys in `keys` 's folder)."""

    url: str
    keys: AlipayKeys
    account: AlipayAccount

    @property
    def gateway(self) -> str:
        return f"{self.url}/gateway.do"

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """A control endpoint's JSON (raises for an error status)."""
        async with httpx.AsyncClient(base_url=self.url, timeout=20) as http:
            response = await (http.post(path, json=body) if body is not None else http.get(path))
            response.raise_for_status()
            return response.json()

    def settings(self, settings: Settings, **changes: Any) -> Settings:
        """`settings` paying Alipay directly through the stand-in."""
        changes.setdefault("providers", with_provider(settings.providers, "alipay", "alipay"))
        return dataclasses.replace(
            settings, alipay=self.account, alipay_gateway=self.gateway, **changes
        )


@pytest.fixture(scope="session")
def alipay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlipayStandIn]:
    """The Alipay open API stand-in for this run, with the development application."""
    folder = tmp_path_factory.mktemp("alipay")
    keys = alipay_keys.ensure_keys(folder)
    arguments = ["--keys", str(folder), "--quiet"]
    with stand_in("alipay", *arguments, probe="/_control/health", log_folder=folder) as url:
        yield AlipayStandIn(url, keys, dev_alipay(folder))


@pytest.fixture(scope="session")
async def settings(
    database_url: str,
    localstripe_url: str,
    wechat_url: str,
    sms_gateway: tuple[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        var_dir=tmp_path_factory.mktemp("var"),
        stripe_api_base=localstripe_url,
        # The in-process client's address (httpx's base_url): links and return URLs use it.
        public_url="http://testserver",
        wechat_oauth_base=wechat_url,
        wechat_api_base=wechat_url,
        wechat_official=WECHAT_OFFICIAL,
        wechat_website=WECHAT_WEBSITE,
        sms=SmsAccount(
            provider="aliyun",
            endpoint=sms_gateway[0],
            access_key_id=SMS_KEY[0],
            access_key_secret=SMS_KEY[1],
            sign_name=SMS_SIGN,
            template=SMS_TEMPLATE,
        ),
    )


# What must never be in a log: the test accounts' password, bearer tokens, card numbers,
# provider keys, the secret key.
SECRETS_IN_LOGS = re.compile(
    "|".join(
        (
            re.escape(PASSWORD),
            r"sy_[A-Za-z0-9_-]{40,}",
            # a card number alone, not inside a hex request id or a decimal
            r"(?<![\w.])4[0-9]{15}\b",
            r"whsec_[A-Za-z0-9]+",
            re.escape(TEST_SECRET_KEY),
            re.escape(WECHAT_OFFICIAL.secret),
            re.escape(WECHAT_WEBSITE.secret),
            re.escape(SMS_KEY[1]),
        )
    )
)


@pytest.fixture(scope="session", autouse=True)
def logs_without_secrets(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Every log line of the run, in the app's JSON format: in this process, and from every
    `shuyuan serve` and `shuyuan worker` the tests start (their logs are in settings.var_dir).
    At the end of the run, none may hold a secret."""
    path = tmp_path_factory.mktemp("logs") / "in-process.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()
    found = [
        f"{log.name}: {line[:300]}"
        for log in [path, *sorted(settings.var_dir.glob("*.log"))]
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
        if SECRETS_IN_LOGS.search(line)
    ]
    assert not found, "secrets in the logs:\n" + "\n".join(found[:20])


@pytest.fixture(scope="session", autouse=True)
async def orm(settings: Settings) -> AsyncIterator[None]:
    """Migrate the test database and open the ORM once; every test and handler shares it.

    The ASGI transport does not run the app's lifespan, so this fixture owns the ORM. The
    global fallback lets request handlers (running in other tasks) see this context.
    """
    await migrate(settings)
    await Tortoise.init(config=tortoise_config(settings.database_url), _enable_global_fallback=True)
    yield
    await Tortoise.close_connections()


async def _postgres_emptying_script(connection: BaseDBAsyncClient, tables: list[str]) -> str:
    """What TRUNCATE ... RESTART IDENTITY CASCADE does to `tables`, as DELETEs and setvals.

    TRUNCATE gives each table and index a new file: about 3 ms a table, 0.2 s for all of them
    after every test, though a test fills only a few. DELETE on an empty table costs nearly
    nothing. The DELETEs run children first (foreign keys read from the catalogue, so the
    migrations' hand-written ones count too), over the tables CASCADE would reach; only the
    sequences those tables own that have handed out a number are set back.
    """
    _, references = await connection.execute_query(
        "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent "
        "FROM pg_constraint WHERE contype = 'f'"
    )
    _, named = await connection.execute_query(
        "SELECT to_regclass(quote_ident(name))::text AS name FROM unnest($1::text[]) AS name",
        [tables],
    )
    reached = {row["name"] for row in named}
    parents_of: dict[str, set[str]] = {}
    for reference in references:
        parents_of.setdefault(reference["child"], set()).add(reference["parent"])
    grown = True
    while grown:
        grown = False
        for child, parents in parents_of.items():
            if child not in reached and parents & reached:
                reached.add(child)
                grown = True
    children_first = TopologicalSorter(
        {
            parent: {child for child, parents in parents_of.items() if parent in parents}
            for parent in reached
        }
    ).static_order()
    _, owned = await connection.execute_query(
        "SELECT DISTINCT sequence.oid::regclass::text AS name FROM pg_class sequence "
        "JOIN pg_depend owner ON owner.classid = 'pg_class'::regclass "
        "AND owner.objid = sequence.oid AND owner.refclassid = 'pg_class'::regclass "
        "AND owner.deptype IN ('a', 'i') "
        "WHERE sequence.relkind = 'S' AND owner.refobjid::regclass::text = ANY($1)",
        [sorted(reached)],
    )
    sequences = ", ".join("'" + row["name"].replace("'", "''") + "'" for row in owned)
    return (
        "".join(f"DELETE FROM {table};" for table in children_first)
        + "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) "
        + "FROM pg_sequences WHERE last_value IS NOT NULL "
        + f"AND format('%I.%I', schemaname, sequencename)::regclass::text IN ({sequences});"
    )


@pytest.fixture(scope="session")
async def emptying_script(orm: None) -> str:
    """The SQL that empties every table of the models and starts their numbering again."""
    connection = connections.get("default")
    tables = [table_name(model) for app in Tortoise.apps.values() for model in app.values()]
    if database_kind() == "postgres":
        return await _postgres_emptying_script(connection, tables)
    # Numbering starts again too, as on PostgreSQL: a test that reads the first member's card
    # number must not depend on the tests run before it.
    return (
        "PRAGMA foreign_keys = OFF;"
        + "".join(f'DELETE FROM "{table}";' for table in tables)
        + "DELETE FROM sqlite_sequence;"
        + "PRAGMA foreign_keys = ON;"
    )


@pytest.fixture(autouse=True)
async def clean_tables(emptying_script: str) -> AsyncIterator[None]:
    yield
    await connections.get("default").execute_script(emptying_script)


@pytest.fixture(autouse=True)
def wired(settings: Settings) -> Iterator[AppWiring]:
    """What the test's app is wired with (its purposes, notice kinds, letterhead, memories),
    also bound for the test itself, which calls services without an app: built fresh for each
    test, so a purpose one test registers is gone for the next."""
    wired = wire(settings)
    with wired.wiring().bound():
        yield wired


@pytest.fixture
async def app(settings: Settings, wired: AppWiring) -> AsyncIterator[Starlette]:
    app = create_app(settings, manage_database=False, background_tasks=False, wired=wired)
    yield app
    await app.state.counter.aclose()
    await app.state.payments_provider.aclose()
    app.state.pictures.close()


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
async def provider(settings: Settings) -> AsyncIterator[PaymentProvider]:
    """A payments provider talking to this run's localstripe."""
    real = make_provider(
        api_base=settings.stripe_api_base,
        secret_key=settings.stripe_secret_key,
        webhook_secret=settings.stripe_webhook_secret,
    )
    yield real
    await real.aclose()
