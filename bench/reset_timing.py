"""How long a password-reset request takes for an existing and for an unknown email.

Asking for a reset must not tell whether an account exists (accounts/resets.py); a time that
differs by the answer tells it as surely as a different body. This starts `shuyuan serve` (one
uvicorn worker) of the checkout at --root on a SQLite file database in a temporary folder,
registers accounts through the JSON API, then sends POST /api/v1/password-resets one at a time,
alternating an existing account's email and a never-seen one, and prints the median and p90 of
each and their ratio. Every timed answer must be the usual 202; any other is counted and shown
(and left out of the times).

The reset limits are kept out of the way without changing them: 3 requests an hour per email,
so each existing account is asked once (--samples accounts, plus WARM_UP, are registered
first); 10 an hour per address, so each request comes from its own address in X-Forwarded-For,
which `shuyuan serve` trusts from 127.0.0.1 (cli.py: proxy_headers, forwarded_allow_ips).

    python -m bench.reset_timing [--samples 200] [--root DIR]

--root (or BENCH_ROOT) serves another checkout's code, e.g. a `git worktree` of an older commit.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.common import ROOT, add_root_option, register_account, serving_checkout, summary

WARM_UP = 10  # untimed pairs first: the first requests pay for imports and cold caches
REGISTERING_AT_ONCE = 2  # argon2 hashes in parallel while registering (one per CPU here)


def addresses() -> Iterator[str]:
    """A distinct client address for every request (10.0.0.1, 10.0.0.2, ...)."""
    for n in range(1, 2**24):
        yield str(ipaddress.IPv4Address(0x0A000000 + n))


async def existing_emails(http: httpx.AsyncClient, count: int) -> list[str]:
    """`count` accounts registered through the API; their emails."""
    emails = [f"reset-{n}-{secrets.token_hex(4)}@bench.cn" for n in range(count)]
    queue = list(reversed(emails))
    # Sign-ups are limited per address: each comes from an address of its own (172.16.x.y).
    origins = (str(ipaddress.IPv4Address(0xAC100000 + n)) for n in range(1, count + 1))

    async def registrar() -> None:
        while queue:
            await register_account(
                http, queue.pop(), secrets.token_urlsafe(24), address=next(origins)
            )

    await asyncio.gather(*(registrar() for _ in range(REGISTERING_AT_ONCE)))
    return emails


async def ask(http: httpx.AsyncClient, email: str, address: str) -> tuple[int, float]:
    started = time.perf_counter()
    response = await http.post(
        "/api/v1/password-resets", json={"email": email}, headers={"X-Forwarded-For": address}
    )
    return response.status_code, time.perf_counter() - started


def ms(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] * 1000 if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1000


async def main(args: argparse.Namespace) -> None:
    times: dict[str, list[float]] = {"existing": [], "unknown": []}
    answers: dict[str, dict[int, int]] = {"existing": {}, "unknown": {}}
    source = addresses()
    with (
        tempfile.TemporaryDirectory(prefix="sy-bench-resets-") as folder,
        serving_checkout(args.root, Path(folder)) as (base, _),
    ):
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            started = time.perf_counter()
            emails = await existing_emails(http, args.samples + WARM_UP)
            registering = time.perf_counter() - started
            for n, email in enumerate(emails):
                for kind, asked in (
                    ("existing", email),
                    ("unknown", f"nobody-{secrets.token_hex(8)}@bench.cn"),
                ):
                    status, took = await ask(http, asked, next(source))
                    if n < WARM_UP:
                        continue
                    answers[kind][status] = answers[kind].get(status, 0) + 1
                    if status == 202:
                        times[kind].append(took)
    print(
        f"POST /api/v1/password-resets, {args.samples} of each kind alternating, one at a time; "
        f"SQLite, one uvicorn worker; root {args.root}"
    )
    print(f"({args.samples + WARM_UP} accounts registered first in {registering:.0f} s)")
    print(f"{'':<9} {'202s':>5} {'median ms':>10} {'p90 ms':>8} {'mean ms':>8}  other answers")
    for kind in ("existing", "unknown"):
        others = ", ".join(f"{s}x{c}" for s, c in sorted(answers[kind].items()) if s != 202)
        print(
            f"{kind:<9} {len(times[kind]):>5} {ms(times[kind], 50):>10.2f} "
            f"{ms(times[kind], 90):>8.2f} "
            f"{statistics.fmean(times[kind]) * 1000 if times[kind] else 0.0:>8.2f}  "
            f"{others or 'none'}"
        )
    median_ratio = ms(times["existing"], 50) / (ms(times["unknown"], 50) or float("nan"))
    p90_ratio = ms(times["existing"], 90) / (ms(times["unknown"], 90) or float("nan"))
    print(f"existing / unknown: median {median_ratio:.2f}x, p90 {p90_ratio:.2f}x")
    summary(
        "password reset (existing / unknown email)"
        + ("" if args.root == ROOT else f" [{args.root}]"),
        {
            "median ms": f"{ms(times['existing'], 50):.2f} / {ms(times['unknown'], 50):.2f}",
            "ratio of medians": f"{median_ratio:.2f}",
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="timed requests of each kind")
    add_root_option(parser)
    os.chdir(Path(__file__).resolve().parent.parent)
    asyncio.run(main(parser.parse_args()))
