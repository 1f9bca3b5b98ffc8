"""Benchmark: 07:00, the morning push, through nginx (deploy/nginx/) in front of two app hosts and
PgBouncer, against baselines on the same nginx in the same run.

MEMBERS people, signed in (a browser session each; MEMBER_SHARE of them members), open the home
page and the day's item, then its members-only audio as a phone plays it: `Range: bytes=0-`,
then a few ranges ahead. Load from wrk over HTTPS, CONNECTIONS connections, SECONDS each phase.

- pages/s: GET / and GET /feed/items/<id> through nginx to the two hosts, against a bare
  Starlette endpoint doing the same work for a page (the session read and the access check,
  through PgBouncer) behind the same nginx, also on two processes. Target >= 1.0x.
- audio bytes/s: the app's audio route (its access check, then X-Accel-Redirect: nginx sends
  the file, deploy/nginx/media.conf), against nginx serving the file after `auth_request` to
  the bare access check. Target >= 0.9x. Non-members are refused (403) on both sides.
- the drop and the enrollment rush (holds/s, seats/s from the database's clock) through nginx,
  the two hosts and PgBouncer, beside the same rush on one box (`shuyuan serve`, 2 workers,
  PostgreSQL directly), as bench/drop_rush.py and bench/enrollment_rush.py run it.

    python -m bench.morning_push [--members 300] [--seconds 8] [--connections 32] [--rounds 3]
                                 [--units 3000] [--seats 2000]

Each of the four phases runs --rounds times, the sides in turn; the ratios are the medians of
the rounds' (one round's app phase against the bare phase next to it).

Needs PostgreSQL (BENCH_POSTGRES_URL), wrk, Debian's nginx and PgBouncer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

import httpx

from bench.common import (
    Load,
    cpu_seconds_by_kind,
    fresh_app_database,
    orm,
    processes,
    serving_app,
    serving_behind_nginx,
    serving_hosts,
    summary,
    wait_for,
    wal_position,
    wrk_get,
)
from bench.wrk_load import run_wrk
from tests.deploy.harness import Nginx, running_nginx, running_pgbouncer, self_signed
from tests.live import free_port

MEMBER_SHARE = 0.7
CHUNK = 256 * 1024  # what a phone's player asks for ahead of where it plays

BARE_APP = """
import hashlib
import os
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from http.cookies import SimpleCookie

import asyncpg
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

# The session read the app does for a page (accounts/sql: the session row and its account in
# one query, by the SHA-256 of the cookie's key), and the access check of a members-only item.
SESSION = (
    "SELECT u.id, u.member_until FROM accounts_session s JOIN accounts_user u "
    "ON u.id = s.user_id WHERE s.key_hash = $1"
)
ITEM = "SELECT members_only FROM community_feed_item WHERE id = $1"
AUDIO = "SELECT members_only FROM community_feed_item WHERE audio_file = $1"
pool = None

@asynccontextmanager
async def lifespan(app):
    global pool
    pool = await asyncpg.create_pool(
        os.environ["BARE_DSN"], min_size=2, max_size=10, statement_cache_size=0
    )
    yield
    await pool.close()

async def member(request):
    cookie = SimpleCookie(request.headers.get("cookie", ""))
    key = cookie.get("shuyuan_session")
    if key is None:
        return None
    digest = hashlib.sha256(key.value.encode()).hexdigest()
    row = await pool.fetchrow(SESSION, digest)
    if row is None:
        return None
    until = row["member_until"]
    return bool(until and until > datetime.now(UTC))

async def page(request):
    is_member = await member(request)
    members_only = await pool.fetchval(ITEM, int(request.path_params["id"]))
    open_ = not members_only or is_member
    return HTMLResponse(f"<p>{'open' if open_ else 'members only'}</p>")

async def access(request):
    name = request.headers.get("x-original-uri", "").rsplit("/", 1)[-1]
    members_only = await pool.fetchval(AUDIO, name)
    if members_only is None:
        return Response(status_code=404)
    if members_only and not await member(request):
        return Response(status_code=403)
    return Response(status_code=204)

app = Starlette(
    routes=[Route("/page/{id:int}", page), Route("/access", access)], lifespan=lifespan
)
"""

# The baseline's site on the same nginx: TLS as the app's, the bare app on two processes, and
# the audio from disk after auth_request.
BASELINE_SITE = """
    upstream bare_app {{
        {servers}
        keepalive 64;
        keepalive_timeout 4s;
    }}
    server {{
        listen 127.0.0.1:{port} ssl http2;
        server_name localhost;
        ssl_certificate {certificate};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:bare_tls:10m;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        location /page/ {{
            proxy_pass http://bare_app;
        }}
        location /audio/ {{
            auth_request /_access;
            alias {audio_dir}/;
            sendfile on;
            tcp_nopush on;
        }}
        location = /_access {{
            internal;
            proxy_pass http://bare_app/access;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
        }}
    }}
"""


async def morning_people(dsn: str, members: int) -> tuple[list[str], str]:
    """`members` accounts with a browser session each (MEMBER_SHARE of them members), and an
    admin's API token. Returns the session keys (the cookie's values) and the token."""
    from accounts import services as accounts
    from accounts import sessions
    from accounts.models import User

    async with orm(dsn):
        now = datetime.now(UTC)
        shared = await accounts.hash_password("bench password")
        await User.bulk_create(
            [
                User(
                    email=f"morning{n}@bench.cn",
                    display_name=f"早起{n}",
                    password_hash=shared,
                    member_until=now + timedelta(days=100) if n < members * MEMBER_SHARE else None,
                )
                for n in range(members)
            ],
            batch_size=2000,
        )
        keys = []
        for user in await User.filter(email__startswith="morning").order_by("id"):
            key, _ = await sessions.begin_with_key(
                secrets.token_urlsafe(32),
                user,
                now=now,
                user_agent="bench phone",
                address="127.0.0.1",
                data={},
            )
            keys.append(key)
        admin = await accounts.create_admin(email="editor@bench.cn", password="bench password")
        return keys, await accounts.issue_token(admin, name="bench")


def day_item(host: str, token: str) -> tuple[int, str]:
    """Today's members-only item with a 60-second voice, written through the admin API of
    one host; its id and its audio's path."""
    from community.feed.audio import silent_mp3

    response = httpx.post(
        f"{host}/api/v1/admin/feed-items",
        data={"title": "早上七点", "body": "今天聊聊**认知**。", "keyword": "认知",
              "members_only": "true"},
        files={"audio": ("voice.mp3", silent_mp3(60), "audio/mpeg")},
        headers={"Authorization": f"Bearer {token}", "Host": "localhost"},
        timeout=60,
    )  # fmt: skip
    if response.status_code != 201:
        raise SystemExit(f"writing the day's item: {response.status_code} {response.text}")
    return int(response.json()["id"]), str(response.json()["audio_url"])


@contextmanager
def bare_hosts(pooled: str, folder: Path) -> Iterator[list[str]]:
    """The bare app (BARE_APP) on two uvicorn processes through PgBouncer."""
    (folder / "bare_morning.py").write_text(BARE_APP)
    ports = [free_port(), free_port()]
    env = {**os.environ, "BARE_DSN": pooled.replace("postgres://", "postgresql://", 1)}
    commands = [
        ([sys.executable, "-m", "uvicorn", "bare_morning:app", "--port", str(port),
          "--log-level", "warning", "--no-access-log"], env, folder)
        for port in ports
    ]  # fmt: skip
    with processes(commands) as started:
        for port, process in zip(ports, started, strict=True):
            wait_for(f"http://127.0.0.1:{port}/page/0", process)
        yield [f"127.0.0.1:{port}" for port in ports]


def phone_ranges(size: int) -> list[str]:
    """What a phone's player asks for: the whole from the start, then a few chunks ahead."""
    ahead = [f"bytes={at}-{min(size, at + CHUNK) - 1}" for at in range(CHUNK, size, CHUNK)]
    return ["bytes=0-", *ahead[:3]]


async def morning(args: argparse.Namespace) -> dict[str, str]:
    async with fresh_app_database("shuyuan_morning") as dsn:
        keys, token = await morning_people(dsn, args.members)
        return await asyncio.to_thread(measure_morning, args, dsn, keys, token)


def measure_morning(
    args: argparse.Namespace, dsn: str, keys: list[str], token: str
) -> dict[str, str]:
    """The servers started, the day's item written, both sides loaded; their numbers."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder.chmod(0o755)
        var_dir = folder / "var"
        var_dir.mkdir()
        pooled = stack.enter_context(running_pgbouncer(dsn, pool_size=20))
        https_port, baseline_port = free_port(), free_port()
        hosts = stack.enter_context(serving_hosts(dsn, pooled, https_port, var_dir))
        item_id, audio_url = day_item(f"http://{hosts[0]}", token)
        name = audio_url.rsplit("/", 1)[1]
        audio_file = next(var_dir.rglob(name))
        bare = stack.enter_context(bare_hosts(pooled, folder))
        certificate, key = self_signed(folder)
        extra = BASELINE_SITE.format(
            servers=" ".join(f"server {host};" for host in bare),
            port=baseline_port,
            certificate=certificate,
            key=key,
            audio_dir=audio_file.parent,
        )
        nginx: Nginx = stack.enter_context(
            running_nginx(folder, hosts, extra_http=extra, ports=(https_port, free_port()),
                          tls=(certificate, key), var_dir=var_dir, workers=1)
        )  # fmt: skip
        baseline = f"https://localhost:{baseline_port}"
        cookies = [f"shuyuan_session={key}" for key in keys]
        app_pages = [(path, cookie, "") for cookie in cookies
                     for path in ("/", f"/feed/items/{item_id}")]  # fmt: skip
        bare_pages = [(f"/page/{item_id}", cookie, "") for cookie in cookies for _ in "ab"]
        size = audio_file.stat().st_size
        ranges = phone_ranges(size)
        app_audio = [(audio_url, cookie, r) for cookie in cookies for r in ranges]
        bare_audio = [(f"/audio/{name}", cookie, r) for cookie in cookies for r in ranges]
        check_answers(nginx, baseline, cookies[0], item_id, audio_url, name)
        load = {"connections": args.connections, "seconds": args.seconds}
        phases = {
            "pages": (nginx.url, app_pages),
            "bare pages": (baseline, bare_pages),
            "audio": (nginx.url, app_audio),
            "bare audio": (baseline, bare_audio),
        }
        # Each side in turn, args.rounds times (the order turned round each time): the box's
        # speed drifts by a third within minutes, and a ratio of two phases run side by side
        # is what is compared.
        runs: dict[str, list[Load]] = {label: [] for label in phases}
        # CPU per request of each kind of process, each run: steadier than requests/s on a
        # machine whose speed drifts, and it says where a side's time goes.
        cpu: dict[str, list[dict[str, float]]] = {label: [] for label in phases}
        for round_ in range(args.rounds):
            for label in list(phases)[:: 1 if round_ % 2 == 0 else -1]:
                base, requests = phases[label]
                before = cpu_seconds_by_kind()
                runs[label].append(wrk_get(base, requests, **load))
                after = cpu_seconds_by_kind()
                answered = runs[label][-1].requests
                cpu[label].append(
                    {kind: (after[kind] - before[kind]) * 1000 / answered for kind in after}
                )
    members = round(args.members * MEMBER_SHARE)
    print(
        f"morning push: {args.members} signed-in people ({members} members), the home page, "
        f"the day's item and its 60 s voice ({size // 1024} KiB, {', '.join(ranges)}); "
        f"wrk -t2 -c{args.connections} {args.seconds}s over HTTPS to nginx, {args.rounds} "
        f"rounds; 2 hosts x 1 worker through PgBouncer; audio by X-Accel-Redirect; "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'':<11} {'requests/s':>10} {'MB/s':>8} {'non-2xx':>8}   (median of the rounds)")
    for label, loads in runs.items():
        print(
            f"{label:<11} {median(x.per_second for x in loads):>10.0f} "
            f"{median(x.bytes_per_second for x in loads) / 2**20:>8.1f} "
            f"{sum(x.non_2xx for x in loads):>8}"
        )
    kinds = ["app", "bare", "PostgreSQL", "PgBouncer", "nginx", "wrk"]
    print(
        f"{'CPU ms per request':<19}"
        + "".join(f"{kind:>11}" for kind in kinds)
        + f"{'all':>8}   (median of the rounds)"
    )
    for label, measured in cpu.items():
        cells = {kind: median(m[kind] for m in measured) for kind in kinds}
        total = median(sum(m[kind] for kind in kinds) for m in measured)
        print(
            f"{label:<19}" + "".join(f"{cells[kind]:>11.3f}" for kind in kinds) + f"{total:>8.3f}"
        )
    page_ratios = [
        app.per_second / bare.per_second
        for app, bare in zip(runs["pages"], runs["bare pages"], strict=True)
    ]
    audio_ratios = [
        app.bytes_per_second / bare.bytes_per_second
        for app, bare in zip(runs["audio"], runs["bare audio"], strict=True)
    ]
    pages, audio = median(page_ratios), median(audio_ratios)
    print(
        f"pages/s app/bare: {pages:.2f} (target >= 1.0; rounds "
        f"{', '.join(f'{r:.2f}' for r in page_ratios)}); audio bytes/s app/nginx: {audio:.2f} "
        f"(target >= 0.9; rounds {', '.join(f'{r:.2f}' for r in audio_ratios)}); "
        "non-2xx: the non-members' 403s\n",
        flush=True,
    )
    return {
        "pages/s": f"{median(x.per_second for x in runs['pages']):.0f}",
        "bare endpoint pages/s": f"{median(x.per_second for x in runs['bare pages']):.0f}",
        "pages app/bare (target >= 1.0)": f"{pages:.2f}",
        "audio MB/s": f"{median(x.bytes_per_second for x in runs['audio']) / 2**20:.1f}",
        "nginx auth_request audio MB/s": (
            f"{median(x.bytes_per_second for x in runs['bare audio']) / 2**20:.1f}"
        ),
        "audio app/nginx (target >= 0.9)": f"{audio:.2f}",
        "CPU per page, every process (ms)": (
            f"{median(sum(m.values()) for m in cpu['pages']):.2f}"
        ),
        "CPU per bare page, every process (ms)": (
            f"{median(sum(m.values()) for m in cpu['bare pages']):.2f}"
        ),
    }


def check_answers(
    nginx: Nginx, baseline: str, cookie: str, item_id: int, audio_url: str, name: str
) -> None:
    """Both sides answer what they are measured on (a member's page and audio, 206 on Range)."""
    with httpx.Client(verify=nginx.tls(), headers={"Cookie": cookie}, timeout=30) as http:
        for url, expected in (
            (f"{nginx.url}/", 200),
            (f"{nginx.url}/feed/items/{item_id}", 200),
            (f"{baseline}/page/{item_id}", 200),
        ):
            status = http.get(url).status_code
            if status != expected:
                raise SystemExit(f"{url}: {status}, not {expected}")
        for url in (f"{nginx.url}{audio_url}", f"{baseline}/audio/{name}"):
            answer = http.get(url, headers={"Range": "bytes=1000-1999"})
            if (answer.status_code, len(answer.content)) != (206, 1000):
                raise SystemExit(f"{url}: {answer.status_code}, {len(answer.content)} bytes")


# ---------------------------------------------------------------------------------------------
# The rushes through nginx, two hosts and PgBouncer, beside one box


async def drop_rush(args: argparse.Namespace, *, fleet: bool) -> tuple[float, int, float]:
    """Holds/s of a drop of args.units units for 1.2x as many buyers; oversell; and the
    write-ahead log PostgreSQL wrote per hold (docs/scaling.md reads the database's limit
    from it)."""
    from bench.drop_rush import _span, oversell, prepare_drop, settled

    async with fresh_app_database("shuyuan_morning_drop") as dsn:
        product_id, tokens = await prepare_drop(dsn, args.units, args.units * 6 // 5)
        body = json.dumps({"items": [{"product_id": product_id, "quantity": 1}]})
        requests = [("/api/v1/orders", f"Bearer {t}") for t in tokens]
        with serving(dsn, fleet=fleet) as base:
            wal_before = await wal_position(dsn)
            run_wrk(base, requests, body=body, connections=args.rush_connections,
                    seconds=120, stop_status=409)  # fmt: skip
            await settled(dsn, "store_order")
            wal = await wal_position(dsn) - wal_before
        holds, seconds = await _span(
            dsn,
            "SELECT count(*) AS n, extract(epoch FROM max(created_at) - min(created_at)) "
            "AS seconds FROM store_order",
        )
        return holds / seconds, await oversell(dsn, product_id, args.units), wal / max(holds, 1)


async def enrollment_rush(args: argparse.Namespace, *, fleet: bool) -> tuple[float, int]:
    """Seats held/s of a window of args.seats seats for 1.5x as many people; and oversell."""
    from bench.enrollment_rush import counted, open_window, people

    async with fresh_app_database("shuyuan_morning_seats") as dsn:
        tokens, _ = await people(dsn, args.seats * 3 // 2)
        window_id = await open_window(dsn, args.seats)
        path = f"/api/v1/enrollment-windows/{window_id}/enrollments"
        with serving(dsn, fleet=fleet) as base:
            run_wrk(base, [(path, f"Bearer {t}") for t in tokens], body="",
                    connections=args.rush_connections, seconds=120, stop_status=409)  # fmt: skip
            await asyncio.sleep(1.0)
        held, seconds, over = await counted(dsn, window_id, args.seats)
        return held / seconds, over


@contextmanager
def serving(dsn: str, *, fleet: bool) -> Iterator[str]:
    """One box (`shuyuan serve`, 2 workers, PostgreSQL directly), or several hosts: nginx over
    HTTPS in front of two hosts of one worker each through PgBouncer."""
    with serving_behind_nginx(dsn) if fleet else serving_app(dsn) as base:
        yield base


async def rushes(args: argparse.Namespace) -> dict[str, str]:
    one_drop, one_drop_over, wal_per_hold = await drop_rush(args, fleet=False)
    fleet_drop, fleet_drop_over, _ = await drop_rush(args, fleet=True)
    one_seats, one_seats_over = await enrollment_rush(args, fleet=False)
    fleet_seats, fleet_seats_over = await enrollment_rush(args, fleet=True)
    print(
        f"rushes: a drop of {args.units} units and a window of {args.seats} seats, wrk "
        f"-c{args.rush_connections}; one box = shuyuan serve x2 workers on PostgreSQL; "
        f"several = nginx (HTTPS) + 2 hosts x 1 worker + PgBouncer (transaction mode)"
    )
    print(f"{'':<14} {'holds/s':>8} {'seats/s':>8} {'oversell':>8}")
    print(f"{'one box':<14} {one_drop:>8.0f} {one_seats:>8.0f} {one_drop_over + one_seats_over:>8}")
    print(f"{'nginx+2 hosts':<14} {fleet_drop:>8.0f} {fleet_seats:>8.0f} "
          f"{fleet_drop_over + fleet_seats_over:>8}")  # fmt: skip
    print(f"write-ahead log per hold (one box's drop): {wal_per_hold:,.0f} bytes\n")
    oversold = one_drop_over + fleet_drop_over + one_seats_over + fleet_seats_over
    return {
        "drop holds/s, one box": f"{one_drop:.0f}",
        "drop holds/s, nginx + 2 hosts + PgBouncer": f"{fleet_drop:.0f}",
        "seats/s, one box": f"{one_seats:.0f}",
        "seats/s, nginx + 2 hosts + PgBouncer": f"{fleet_seats:.0f}",
        "oversell (must be 0)": str(oversold),
        "WAL per hold, one box (bytes)": f"{wal_per_hold:.0f}",
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="each side this many times, in turn")
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--seats", type=int, default=2000)
    parser.add_argument("--rush-connections", type=int, default=64)
    parser.add_argument("--no-rushes", action="store_true", help="the morning push only")
    args = parser.parse_args()
    numbers = await morning(args)
    if not args.no_rushes:
        numbers |= await rushes(args)
    summary("morning push", numbers)


if __name__ == "__main__":
    asyncio.run(main())
