"""What the rush benchmarks share: a load generator over httpx, servers, and the raw baseline.

The raw baseline is the naive hot-row design: a bare Starlette endpoint running one statement,
`UPDATE ... SET taken = taken + 1 WHERE taken < seats RETURNING` feeding an INSERT, through
asyncpg, served by uvicorn with the same workers as the app.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.live import free_port, wait_until_answering  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
WORKERS = 2
CLIENT_PROCESSES = int(os.environ.get("BENCH_CLIENT_PROCESSES", "2"))
HEADER = (
    f"{'':<10} {'accepted':>8} {'accepted/s':>11} {'answers/s':>9} {'p50 ms':>8} "
    f"{'p99 ms':>8} {'409 p50 ms':>10} {'409 p99 ms':>10}"
)


def app_environment(dsn: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHUYUAN_", "STRIPE_"))}
    env.update(DATABASE_URL=dsn, SECRET_KEY="bench-" + "k" * 40, SHUYUAN_VAR_DIR="/tmp/sy-bench")
    return env


RAW_APP = """
import os
from contextlib import asynccontextmanager

import asyncpg
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

pool = None

@asynccontextmanager
async def lifespan(app):
    global pool
    pool = await asyncpg.create_pool(os.environ["RAW_DSN"], min_size=5, max_size=10)
    yield
    await pool.close()

async def hold(request):
    user_id = int(request.path_params["user_id"])
    row = await pool.fetchrow(
        "WITH taken AS (UPDATE raw_window SET taken = taken + 1 "
        "WHERE id = 1 AND taken < seats RETURNING id) "
        "INSERT INTO raw_hold (window_id, user_id) SELECT id, $1 FROM taken RETURNING id",
        user_id,
    )
    if row is None:
        return JSONResponse({"error": {"code": "sold_out"}}, status_code=409)
    return JSONResponse({"id": row["id"]}, status_code=201)

app = Starlette(routes=[Route("/hold/{user_id:int}", hold, methods=["POST"])], lifespan=lifespan)
"""


@dataclass
class Run:
    name: str
    elapsed: float
    latencies_ok: list[float]
    latencies_refused: list[float]
    statuses: dict[int, int]

    @property
    def accepted(self) -> int:
        return self.statuses.get(201, 0)

    def row(self) -> str:
        ok = sorted(self.latencies_ok) or [0.0]
        refused = sorted(self.latencies_refused) or [0.0]
        return (
            f"{self.name:<10} {self.accepted:>8} {self.accepted / self.elapsed:>11.0f} "
            f"{sum(self.statuses.values()) / self.elapsed:>9.0f} "
            f"{_pct(ok, 50):>8.1f} {_pct(ok, 99):>8.1f} {_pct(refused, 50):>10.1f} "
            f"{_pct(refused, 99):>10.1f}"
        )


def _pct(values: list[float], pct: int) -> float:
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1] * 1000


async def fire(
    name: str,
    base_url: str,
    requests: list[tuple[str, dict[str, str]]],
    concurrency: int,
    body: dict[str, object] | None = None,
) -> Run:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue: asyncio.Queue[tuple[str, dict[str, str]]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    statuses: dict[int, int] = {}
    ok: list[float] = []
    refused: list[float] = []

    async def worker(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            path, headers = queue.get_nowait()
            started = time.perf_counter()
            response = await http.post(path, headers=headers, json=body)
            took = time.perf_counter() - started
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            (ok if response.status_code == 201 else refused).append(took)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Run(name, elapsed, ok, refused, statuses)


def _fire_in_process(
    name: str,
    base_url: str,
    requests: list[tuple[str, dict[str, str]]],
    concurrency: int,
    body: dict[str, object] | None,
) -> Run:
    return asyncio.run(fire(name, base_url, requests, concurrency, body))


async def fire_from_processes(
    name: str,
    base_url: str,
    requests: list[tuple[str, dict[str, str]]],
    concurrency: int,
    processes: int,
    body: dict[str, object] | None = None,
) -> Run:
    """Split the load over several client processes, so one Python client is not the limit."""
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(processes) as pool:
        # Start the clients' interpreters first, so the rush starts together.
        await asyncio.gather(
            *(loop.run_in_executor(pool, time.sleep, 0.2) for _ in range(processes))
        )
        started = time.perf_counter()
        runs = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool,
                    _fire_in_process,
                    name,
                    base_url,
                    requests[n::processes],
                    max(1, concurrency // processes),
                    body,
                )
                for n in range(processes)
            )
        )
        elapsed = time.perf_counter() - started
    statuses: dict[int, int] = {}
    for run in runs:
        for status, count in run.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return Run(
        name,
        elapsed,
        [t for run in runs for t in run.latencies_ok],
        [t for run in runs for t in run.latencies_refused],
        statuses,
    )


def dsn_for(name: str) -> str:
    return ADMIN_URL.rpartition("/")[0] + "/" + name


async def admin_sql(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL.replace("postgres://", "postgresql://", 1))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.args}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


@asynccontextmanager
async def serving_raw(seats: int) -> AsyncIterator[tuple[str, str]]:
    """The raw hot-row baseline (RAW_APP) with `seats` to sell, under uvicorn with WORKERS
    workers on its own database; yields (base URL, asyncpg DSN)."""
    name = f"shuyuan_raw_{secrets.token_hex(4)}"
    await admin_sql(f'CREATE DATABASE "{name}"')
    dsn = dsn_for(name).replace("postgres://", "postgresql://", 1)
    module_dir = Path("/tmp") / f"raw_bench_{os.getpid()}"
    module_dir.mkdir(exist_ok=True)
    (module_dir / "raw_hot_row.py").write_text(RAW_APP)
    try:
        connection = await asyncpg.connect(dsn)
        await connection.execute(
            "CREATE TABLE raw_window (id int PRIMARY KEY, seats int NOT NULL, taken int NOT NULL);"
            "CREATE TABLE raw_hold (id serial PRIMARY KEY, window_id int NOT NULL, "
            "user_id int NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp());"
            f"INSERT INTO raw_window VALUES (1, {seats}, 0);"
        )
        await connection.close()
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "raw_hot_row:app", "--port", str(port),
             "--workers", str(WORKERS), "--log-level", "warning", "--no-access-log"],
            cwd=module_dir,
            env={**os.environ, "RAW_DSN": dsn},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/", server)
            yield base, dsn
        finally:
            server.terminate()
            server.wait(timeout=20)
    finally:
        await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def bench_raw(attempts: int, seats: int, concurrency: int) -> tuple[Run, int]:
    async with serving_raw(seats) as (base, dsn):
        run = await fire("raw", base, [(f"/hold/{n}", {}) for n in range(attempts)], concurrency)
        connection = await asyncpg.connect(dsn)
        held = await connection.fetchval("SELECT count(*) FROM raw_hold")
        await connection.close()
        return run, max(0, held - seats)


@asynccontextmanager
async def fresh_app_database(
    prefix: str, *, exact: bool = False, keep: bool = False
) -> AsyncIterator[str]:
    """A new PostgreSQL database with the app's migrations applied; dropped afterwards unless
    `keep`. With `exact` it is named `prefix` itself (one left by an earlier run is dropped
    first), so a kept one can be found and looked into."""
    name = prefix if exact else f"{prefix}_{secrets.token_hex(4)}"
    if exact:
        await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin_sql(f'CREATE DATABASE "{name}"')
    dsn = dsn_for(name)
    try:
        subprocess.run(
            [sys.executable, "-m", "cli", "migrate"],
            cwd=ROOT,
            env=app_environment(dsn),
            check=True,
            capture_output=True,
        )
        yield dsn
    finally:
        if not keep:
            await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def serving_app(dsn: str, workers: int = WORKERS) -> Iterator[str]:
    """`shuyuan serve` with `workers` workers and no access log; yields its base URL. Its log
    goes to the file BENCH_APP_LOG names (an error the load met is told there), else nowhere."""
    port = free_port()
    with open(os.environ.get("BENCH_APP_LOG", os.devnull), "w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--no-access-log",
            ],
            cwd=ROOT,
            env=app_environment(dsn),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/healthz", server)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=20)


@asynccontextmanager
async def orm(dsn: str) -> AsyncIterator[None]:
    """Tortoise opened on a benchmark database, for setting up its data with our services."""
    from tortoise import Tortoise

    from db import tortoise_config

    await Tortoise.init(config=tortoise_config(dsn), _enable_global_fallback=True)
    try:
        yield
    finally:
        await Tortoise.close_connections()


async def signed_in_people(count: int, *, prefix: str) -> list[str]:
    """`count` accounts and a bearer token each, already used once (as if signed in before
    the rush), made in bulk with one shared real argon2 hash. Returns the tokens."""
    import hashlib
    from datetime import UTC, datetime

    from accounts import services as accounts
    from accounts.models import ApiToken, User

    shared = await accounts.hash_password("bench password")
    await User.bulk_create(
        [
            User(email=f"{prefix}{n}@bench.cn", display_name=f"{prefix}{n}", password_hash=shared)
            for n in range(count)
        ],
        batch_size=2000,
    )
    users = await User.filter(email__startswith=prefix).order_by("id")
    tokens = ["sy_" + secrets.token_urlsafe(32) for _ in users]
    now = datetime.now(UTC)
    await ApiToken.bulk_create(
        [
            ApiToken(
                user_id=user.id,
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
                name="bench",
                last_used_at=now,
            )
            for user, token in zip(users, tokens, strict=True)
        ],
        batch_size=2000,
    )
    return tokens


SUMMARY = ROOT / "var" / "bench-summary.md"


def summary(title: str, rows: dict[str, str]) -> None:
    """Add one benchmark's lines to var/bench-summary.md (`make bench` starts it afresh and
    prints it at the end: one table of every benchmark)."""
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    with SUMMARY.open("a", encoding="utf-8") as out:
        for name, value in rows.items():
            out.write(f"| {title} | {name} | {value} |\n")


def add_root_option(parser: argparse.ArgumentParser) -> None:
    """`--root DIR`: the checkout whose code the server runs (BENCH_ROOT, else this one), so
    one benchmark script can measure an older checkout (a `git worktree` of it)."""
    parser.add_argument(
        "--root",
        type=lambda value: Path(value).resolve(),
        default=Path(os.environ.get("BENCH_ROOT", ROOT)).resolve(),
        help="the checkout whose code to serve (default: BENCH_ROOT, else this repository)",
    )


@contextmanager
def serving_checkout(root: Path, var_dir: Path) -> Iterator[tuple[str, int]]:
    """`shuyuan serve` (one uvicorn worker, no access log) of the checkout at `root` on the
    SQLite file var_dir/bench.sqlite3, migrated by that checkout first when the file is new.
    Yields (base URL, the server's pid). The server runs from `root` with `root` first on
    PYTHONPATH, so `root`'s modules are imported (this venv's packages serve both); its log
    is var_dir/serve-<port>.log."""
    root = root.resolve()
    database = var_dir / "bench.sqlite3"
    env = app_environment(f"sqlite://{database}")
    env.update(SHUYUAN_VAR_DIR=str(var_dir), PYTHONPATH=str(root))
    if not database.exists():
        subprocess.run(
            [sys.executable, "-m", "cli", "migrate"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
    port = free_port()
    with (var_dir / f"serve-{port}.log").open("w+") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--port", str(port), "--workers", "1",
             "--no-access-log"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_answering(f"{base}/healthz", server, log)
            yield base, server.pid
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


async def register_account(
    http: httpx.AsyncClient, email: str, password: str, *, address: str | None = None
) -> None:
    """An account made through the JSON API (POST /api/v1/accounts), as a person makes one;
    from `address` (X-Forwarded-For) if given, since sign-ups are limited per address."""
    response = await http.post(
        "/api/v1/accounts",
        json={"email": email, "password": password, "display_name": email.partition("@")[0]},
        headers={"X-Forwarded-For": address} if address else None,
    )
    if response.status_code != 201:
        raise SystemExit(f"registering {email}: {response.status_code} {response.text[:300]}")


# ---------------------------------------------------------------------------------------------
# Several hosts (bench/morning_push.py): nginx (deploy/nginx/) in front of app hosts through
# PgBouncer, and wrk's GETs over HTTPS.

# Where the hosts hand members' audio to nginx (deploy/nginx/media.conf).
ACCEL_REDIRECT = "/_protected/"


@contextmanager
def processes(
    commands: list[tuple[list[str], dict[str, str], Path]],
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Each (argv, env, cwd) as a process until the block ends."""
    started = [
        subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        for argv, env, cwd in commands
    ]  # fmt: skip
    try:
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=20)


@contextmanager
def serving_hosts(dsn: str, pooled: str, https_port: int, var_dir: Path) -> Iterator[list[str]]:
    """Two `shuyuan serve` (one worker each, no access log), their queries through PgBouncer
    at `pooled`, on one var_dir (the shared disk of several hosts), handing members' audio to
    nginx; public at nginx's `https_port`. Yields their host:port."""
    from tests.deploy.harness import public_url

    ports = [free_port(), free_port()]
    env = {
        **app_environment(pooled),
        "DATABASE_DIRECT_URL": dsn,
        "SHUYUAN_PUBLIC_URL": public_url(https_port),
        "SHUYUAN_VAR_DIR": str(var_dir),
        "SHUYUAN_ACCEL_REDIRECT": ACCEL_REDIRECT,
    }
    serve = [sys.executable, "-m", "cli", "serve", "--workers", "1", "--no-access-log", "--port"]
    commands = [([*serve, str(port)], env, ROOT) for port in ports]
    with processes(commands) as started:
        for port, process in zip(ports, started, strict=True):
            wait_for(f"http://127.0.0.1:{port}/healthz", process)
        yield [f"127.0.0.1:{port}" for port in ports]


@contextmanager
def serving_behind_nginx(dsn: str) -> Iterator[str]:
    """Several hosts on this box: nginx over HTTPS (deploy/nginx/shuyuan.conf) in front of two
    hosts of one worker each (serving_hosts) through PgBouncer; yields nginx's base URL."""
    import tempfile
    from contextlib import ExitStack

    from tests.deploy.harness import running_nginx, running_pgbouncer

    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        var_dir = folder / "var"
        var_dir.mkdir()
        pooled = stack.enter_context(running_pgbouncer(dsn, pool_size=20))
        https_port = free_port()
        hosts = stack.enter_context(serving_hosts(dsn, pooled, https_port, var_dir))
        nginx = stack.enter_context(
            running_nginx(folder, hosts, ports=(https_port, free_port()), var_dir=var_dir)
        )
        yield nginx.url


@dataclass(frozen=True)
class Load:
    """What wrk counted: answers, seconds, bytes read (headers too), answers not 2xx/3xx."""

    requests: int
    seconds: float
    bytes_read: int
    non_2xx: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_read / self.seconds


# Each thread starts at its own place in the list, then walks it in turn.
WRK_GETS = """
local threads = 0
function setup(thread)
  thread:set("offset", tostring(threads * 7919))
  threads = threads + 1
end
local requests = {{
{requests}
}}
local i = 0
function init(args)
  i = tonumber(wrk.thread:get("offset")) or 0
end
function request()
  i = i + 1
  local r = requests[(i % #requests) + 1]
  return wrk.format("GET", r[1], {{["Cookie"] = r[2], ["Range"] = r[3],
                                   ["Accept-Encoding"] = "gzip"}})
end
"""


def wrk_get(
    base: str, requests: list[tuple[str, str, str]], *, connections: int, seconds: int
) -> Load:
    """wrk's GETs (2 threads) of (path, cookie, range) in turn for `seconds` (an empty cookie
    or range: none sent); https bases too (wrk checks no certificate)."""
    import json
    import re
    import tempfile

    lines = ",\n".join(
        "{" + ", ".join(json.dumps(part) if part else "nil" for part in request) + "}"
        for request in requests
    )
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "gets.lua"
        script.write_text(WRK_GETS.format(requests=lines))
        done = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), base],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
    if done.returncode != 0:
        raise SystemExit(f"wrk failed: {done.stderr}")
    total = re.search(r"([0-9]+) requests in ([0-9.]+)s, ([0-9.]+)([KMG]?B) read", done.stdout)
    if total is None:
        raise SystemExit(f"could not read wrk's output:\n{done.stdout}")
    unit = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[total.group(4)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: ([0-9]+)", done.stdout)
    return Load(
        int(total.group(1)),
        float(total.group(2)),
        int(float(total.group(3)) * unit),
        int(non_2xx.group(1)) if non_2xx else 0,
    )


# The kinds of process a benchmark's CPU is counted for, by their command lines (the app's
# hosts, the bare endpoint of bench/morning_push.py, the database's side, the proxy).
PROCESS_KINDS = (
    ("cli serve", "app"),
    ("bare_morning", "bare"),
    ("pgbouncer", "PgBouncer"),
    ("postgres", "PostgreSQL"),
    ("nginx", "nginx"),
)


def cpu_seconds_by_kind() -> dict[str, float]:
    """CPU seconds (user and system) used so far by this machine's processes of each
    PROCESS_KINDS kind, read from /proc (a process that has ended is not counted: the servers
    of a benchmark live through its phases), and by this process's finished children (wrk)
    under "wrk"."""
    import resource

    tick = os.sysconf("SC_CLK_TCK")
    seconds = dict.fromkeys([kind for _, kind in PROCESS_KINDS], 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        kind = next((kind for mark, kind in PROCESS_KINDS if mark in command), None)
        if kind is not None:
            seconds[kind] += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds["wrk"] = children.ru_utime + children.ru_stime
    return seconds


async def wal_position(dsn: str) -> int:
    """Where PostgreSQL's write-ahead log is now, in bytes (the whole server's: run a rush
    alone to read its own WAL from two positions)."""
    import asyncpg

    connection = await asyncpg.connect(dsn.replace("postgres://", "postgresql://", 1))
    try:
        return int(await connection.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))
    finally:
        await connection.close()
