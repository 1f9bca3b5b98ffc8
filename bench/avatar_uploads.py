"""Server memory, and a concurrent /healthz's p99, while people upload worst-case avatars at once.

The worst case is a picture that is small on the wire and huge once decoded: a --side x --side
PNG of one colour (6300 x 6300 RGB is a 116 KB upload and 119 MB of pixels; the reference
attack). Each round starts a fresh `shuyuan serve` (one uvicorn worker) of the checkout at
--root on a SQLite file database in a temporary folder (migrated once, by that checkout),
registers --uploads accounts through the JSON API with a bearer token each, asks /healthz for
1 s (idle), then sends every upload at once (POST /api/v1/me/avatar, one account each) while
another client asks /healthz every 10 ms (back to back when an answer is late) and the server's
resident memory (VmRSS of it and every descendant process, summed) is read every 50 ms. "After"
is read 2 s after the last upload answered. Prints each round and the medians.

    python -m bench.avatar_uploads [--side 6300] [--uploads 8] [--rounds 3] [--root DIR]

--root (or BENCH_ROOT) serves another checkout's code, e.g. a `git worktree` of an older commit.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image

from bench.common import ROOT, add_root_option, register_account, serving_checkout, summary

HEALTH_EVERY = 0.010
RSS_EVERY = 0.050
SETTLE_SECONDS = 2.0
IDLE_SECONDS = 1.0


def worst_png(side: int) -> bytes:
    """A side x side RGB PNG of one colour: zlib squeezes it about a thousand times."""
    out = io.BytesIO()
    Image.new("RGB", (side, side), (200, 120, 40)).save(out, "PNG", compress_level=9)
    return out.getvalue()


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, in MB (VmRSS, summed)."""
    total_kb = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended between two reads
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def pct(values: list[float], p: int) -> float:
    """The p-th percentile of latencies in seconds, in ms (0 when there are none)."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1000


@dataclass
class Round:
    before: float
    peak: float
    after: float
    idle_p99: float
    health: list[float]
    health_failed: int
    statuses: dict[str, int]
    wall: float

    def cells(self) -> list[str]:
        answers = " ".join(f"{k}x{v}" for k, v in sorted(self.statuses.items()))
        return [
            f"{self.before:.0f}",
            f"{self.peak:.0f}",
            f"{self.after:.0f}",
            f"{len(self.health)}",
            f"{pct(self.health, 50):.1f}",
            f"{pct(self.health, 99):.1f}",
            f"{self.idle_p99:.1f}",
            f"{self.wall:.2f}",
            answers + (f" (+{self.health_failed} healthz failed)" if self.health_failed else ""),
        ]


HEADER = ["", "before MB", "peak MB", "after MB", "healthz n", "p50 ms", "p99 ms",
          "idle p99", "uploads s", "upload answers"]  # fmt: skip
WIDTHS = [7, 9, 8, 8, 9, 8, 8, 8, 9, 0]


def line(cells: list[str]) -> str:
    return " ".join(
        f"{c:<{w}}" if n == 0 else (f"{c:>{w}}" if w else c)
        for n, (c, w) in enumerate(zip(cells, WIDTHS, strict=True))
    )


async def health_checks(base: str, until: asyncio.Event, latencies: list[float]) -> int:
    """Ask /healthz every HEALTH_EVERY (at once when the last answer was late) until `until`
    is set; keep each 200's latency; return how many did not answer 200."""
    failed = 0
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        next_start = time.perf_counter()
        while not until.is_set():
            started = time.perf_counter()
            try:
                response = await http.get("/healthz")
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            took = time.perf_counter() - started
            if ok:
                latencies.append(took)
            else:
                failed += 1
            next_start = max(next_start + HEALTH_EVERY, time.perf_counter())
            await asyncio.sleep(next_start - time.perf_counter())
    return failed


async def sample_rss(pid: int, until: asyncio.Event) -> float:
    peak = rss_mb(pid)
    while not until.is_set():
        await asyncio.sleep(RSS_EVERY)
        peak = max(peak, rss_mb(pid))
    return peak


async def signed_in(http: httpx.AsyncClient, count: int) -> list[str]:
    """`count` new accounts, registered and signed in through the API; their bearer tokens."""
    tokens = []
    for _ in range(count):
        email = f"avatar-{secrets.token_hex(6)}@bench.cn"
        password = secrets.token_urlsafe(24)
        await register_account(http, email, password)
        response = await http.post(
            "/api/v1/tokens", json={"email": email, "password": password, "name": "bench"}
        )
        if response.status_code != 201:
            raise SystemExit(f"token for {email}: {response.status_code} {response.text[:300]}")
        tokens.append(response.json()["token"])
    return tokens


async def upload(http: httpx.AsyncClient, token: str, picture: bytes) -> str:
    """One avatar upload; its status, with the error code when it was refused."""
    try:
        response = await http.post(
            "/api/v1/me/avatar",
            headers={"Authorization": f"Bearer {token}"},
            files={"avatar": ("worst.png", picture, "image/png")},
        )
    except httpx.HTTPError as exc:
        return type(exc).__name__
    if response.status_code == 200:
        return "200"
    try:
        return f"{response.status_code} {response.json()['error']['code']}"
    except (ValueError, KeyError, TypeError):
        return str(response.status_code)


async def one_round(root: Path, var_dir: Path, picture: bytes, uploads: int) -> Round:
    with serving_checkout(root, var_dir) as (base, pid):
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            tokens = await signed_in(http, uploads)
        idle: list[float] = []
        stop_idle = asyncio.Event()
        idle_task = asyncio.create_task(health_checks(base, stop_idle, idle))
        await asyncio.sleep(IDLE_SECONDS)
        stop_idle.set()
        await idle_task
        before = rss_mb(pid)

        done = asyncio.Event()
        health: list[float] = []
        health_task = asyncio.create_task(health_checks(base, done, health))
        rss_task = asyncio.create_task(sample_rss(pid, done))
        limits = httpx.Limits(max_connections=uploads, max_keepalive_connections=uploads)
        async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as http:
            started = time.perf_counter()
            answers = await asyncio.gather(*(upload(http, t, picture) for t in tokens))
            wall = time.perf_counter() - started
        done.set()
        failed = await health_task
        peak = await rss_task
        await asyncio.sleep(SETTLE_SECONDS)
        after = rss_mb(pid)
    statuses: dict[str, int] = {}
    for answer in answers:
        statuses[answer] = statuses.get(answer, 0) + 1
    return Round(before, peak, after, pct(idle, 99), health, failed, statuses, wall)


async def main(args: argparse.Namespace) -> None:
    picture = worst_png(args.side)
    runs = []
    with tempfile.TemporaryDirectory(prefix="sy-bench-avatars-") as folder:
        for _ in range(args.rounds):
            runs.append(await one_round(args.root, Path(folder), picture, args.uploads))
    print(
        f"{args.uploads} parallel avatar uploads of a {args.side}x{args.side} RGB PNG "
        f"({len(picture) / 1024:.0f} KB, {args.side * args.side * 3 / 1e6:.0f} MB decoded), "
        f"SQLite, one uvicorn worker, {args.rounds} rounds; root {args.root.resolve()}"
    )
    print(line(HEADER))
    for n, run in enumerate(runs, 1):
        print(line([f"round {n}", *run.cells()]))
    median = {
        "before": statistics.median(r.before for r in runs),
        "peak": statistics.median(r.peak for r in runs),
        "after": statistics.median(r.after for r in runs),
        "count": statistics.median(len(r.health) for r in runs),
        "p50": statistics.median(pct(r.health, 50) for r in runs),
        "p99": statistics.median(pct(r.health, 99) for r in runs),
        "idle": statistics.median(r.idle_p99 for r in runs),
        "wall": statistics.median(r.wall for r in runs),
    }
    print(
        line(
            [
                "median",
                f"{median['before']:.0f}",
                f"{median['peak']:.0f}",
                f"{median['after']:.0f}",
                f"{median['count']:.0f}",
                f"{median['p50']:.1f}",
                f"{median['p99']:.1f}",
                f"{median['idle']:.1f}",
                f"{median['wall']:.2f}",
                "",
            ]
        )
    )
    print("memory: server + descendants VmRSS, MB; healthz: latencies during the uploads")
    summary(
        f"avatars {args.uploads}x {args.side}px" + ("" if args.root == ROOT else f" [{args.root}]"),
        {
            "RSS before / peak / after MB": (
                f"{median['before']:.0f} / {median['peak']:.0f} / {median['after']:.0f}"
            ),
            "/healthz p50 / p99 ms during": f"{median['p50']:.1f} / {median['p99']:.1f}",
            "uploads wall s": f"{median['wall']:.2f}",
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=6300, help="the PNG's width and height")
    parser.add_argument("--uploads", type=int, default=8, help="uploads sent at once")
    parser.add_argument("--rounds", type=int, default=3)
    add_root_option(parser)
    os.chdir(Path(__file__).resolve().parent.parent)
    asyncio.run(main(parser.parse_args()))
