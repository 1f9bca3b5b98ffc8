"""The feed page and the keyword lookup against a bare Starlette + asyncpg + Jinja2 baseline,
and the front page (the one everyone opens at 07:00) beside the feed page.

Both servers run under uvicorn with one worker on the same PostgreSQL database holding 200
feed items; wrk loads each over 127.0.0.1 (2 threads, 32 connections, three runs of 10 s after
a 2 s warm-up) and this prints the median requests/s and p99 for both and their ratio.
Targets (issue 6): the app's page at least 0.8 of the bare page's requests/s, with p99 no
worse than 1.2x. The front page also shows 8 products, an open enrollment window and a drop.

    python -m bench.feed_page            (BENCH_POSTGRES_URL to use another server)
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from bench.common import ROOT, fresh_app_database, orm, serving_app, summary, wait_for
from tests.live import free_port

ITEMS = 200
DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "32")
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))

BARE_APP = '''
import os
from contextlib import asynccontextmanager

import asyncpg
import jinja2
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

pool = None
env = jinja2.Environment(autoescape=True)
page = env.from_string("""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>Feed</title></head><body><h1>每天早上，六十秒</h1>
{% for item in items %}<article>
<p>{{ item.publish_at.strftime("%Y-%m-%d") }} · {{ item.keyword }}</p>
<h3><a href="/feed/items/{{ item.id }}">{{ item.title }}</a></h3>
{% if loop.first %}<audio controls src="/feed/audio/{{ item.audio_file }}"></audio>{% endif %}
<p>{{ item.body_html[:200] }}</p></article>{% endfor %}</body></html>""")

@asynccontextmanager
async def lifespan(app):
    global pool
    pool = await asyncpg.create_pool(os.environ["BARE_DSN"], min_size=5, max_size=10)
    yield
    await pool.close()

async def feed(request):
    rows = await pool.fetch(
        "SELECT id, title, keyword, members_only, publish_at, audio_file, body_html "
        "FROM community_feed_item WHERE NOT unpublished AND publish_at <= now() "
        "ORDER BY publish_at DESC, id DESC LIMIT 11")
    return HTMLResponse(page.render(items=rows[:10]))

async def lookup(request):
    row = await pool.fetchrow(
        "SELECT id, title, keyword, members_only, publish_at, audio_file, body, body_html "
        "FROM community_feed_item WHERE live_keyword = $1 AND NOT unpublished "
        "AND publish_at <= now()", request.query_params.get("keyword", "").strip().lower())
    if row is None:
        return JSONResponse({"error": {"code": "unknown_keyword"}}, status_code=404)
    return JSONResponse({
        "id": row["id"], "title": row["title"], "keyword": row["keyword"],
        "members_only": row["members_only"], "publish_at": row["publish_at"].isoformat(),
        "audio_url": "/feed/audio/" + row["audio_file"] if row["audio_file"] else None,
        "body": row["body"], "body_html": row["body_html"]})

app = Starlette(routes=[Route("/feed", feed), Route("/api/v1/feed/lookup", lookup),
                        Route("/healthz", lambda r: JSONResponse({"ok": True}))],
                lifespan=lifespan)
'''


async def seed(dsn: str, var_dir: Path) -> list[str]:
    """200 items, one a day, every fifth members-only, each with a 60 s voice."""
    from storage import STORAGE, LocalStorage
    from wiring import Wiring

    # The audio goes where the served app's storage (local: under var_dir) reads it.
    with Wiring(((STORAGE, LocalStorage(var_dir)),)).bound():
        return await _seed(dsn)


async def _seed(dsn: str) -> list[str]:
    async with orm(dsn):
        from community.feed import editing as feed_editing
        from community.feed.audio import check_audio, silent_mp3

        audio = check_audio(silent_mp3(60))
        now = datetime.now(UTC)
        keywords = []
        for day in range(ITEMS):
            keyword = f"关键词{day}"
            await feed_editing.create_item(
                title=f"第{ITEMS - day}期：认知升级的{day}个方法",
                body=("今天我们聊聊**终身学习**与时间的朋友。" * 8) + f"\n\n关键词：{keyword}",
                keyword=keyword,
                members_only=day % 5 == 0,
                publish_at=now - timedelta(days=day, minutes=1),
                audio=audio,
                now=now,
            )
            keywords.append(keyword)
        await seed_front(now)
        return keywords


async def seed_front(now: datetime) -> None:
    """What the front page shows beside the voice: products, an open window, a coming drop."""
    from membership import windows
    from store import services as store

    for n in range(8):
        await store.create_product(
            title=f"第{n}本书：时间的朋友",
            description="",
            category="书",
            price_fen=6_800,
            stock=500,
        )
    await store.create_product(
        title="限量帆布袋",
        description="",
        category="周边",
        price_fen=9_900,
        stock=100,
        sale_starts_at=now + timedelta(days=2),
    )
    await windows.create_window(
        name="2027 年度会员",
        price_fen=19_900,
        seats=10_000,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=3),
        now=now,
    )


def lookup_script(keywords: list[str], folder: Path) -> Path:
    """A wrk script that asks for a different keyword on each request."""
    quoted = ", ".join(f'"{quote(k)}"' for k in keywords)
    script = folder / "lookup.lua"
    script.write_text(
        f"local keywords = {{{quoted}}}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        "  local keyword = keywords[n % #keywords + 1]\n"
        '  return wrk.format("GET", "/api/v1/feed/lookup?keyword=" .. keyword)\n'
        "end\n"
    )
    return script


def wrk(url: str, script: Path | None = None) -> tuple[float, float]:
    """Median (requests/s, p99 ms) of REPEATS wrk runs against `url`, after a warm-up."""
    base = ["wrk", "-t2", f"-c{CONNECTIONS}", "--latency"]
    extra = ["-s", str(script)] if script else []
    subprocess.run([*base, "-d2s", *extra, url], check=True, capture_output=True)
    runs = [_wrk_once(base, extra, url) for _ in range(REPEATS)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def _wrk_once(base: list[str], extra: list[str], url: str) -> tuple[float, float]:
    out = subprocess.run(
        [*base, f"-d{DURATION}", *extra, url], check=True, capture_output=True, text=True
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"errors while loading {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, p99


async def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    var_dir = Path("/tmp/sy-bench")  # bench.common.app_environment's SHUYUAN_VAR_DIR
    async with fresh_app_database("shuyuan_feed") as dsn:
        keywords = await seed(dsn, var_dir)
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "bare_feed.py").write_text(BARE_APP)
            script = lookup_script(keywords, Path(folder))
            port = free_port()
            bare = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "bare_feed:app", "--port", str(port),
                 "--workers", "1", "--log-level", "warning", "--no-access-log"],
                cwd=folder,
                env={**os.environ, "BARE_DSN": dsn.replace("postgres://", "postgresql://", 1)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                bare_base = f"http://127.0.0.1:{port}"
                wait_for(f"{bare_base}/healthz", bare)
                bare_page = wrk(f"{bare_base}/feed")
                bare_lookup = wrk(f"{bare_base}/api/v1/feed/lookup", script)
            finally:
                bare.terminate()
                bare.wait(timeout=20)
            with serving_app(dsn, workers=1) as base:
                app_page = wrk(f"{base}/feed")
                app_lookup = wrk(f"{base}/api/v1/feed/lookup", script)
                app_home = wrk(f"{base}/")
    print(
        f"{ITEMS} items on PostgreSQL, one uvicorn worker each, "
        f"wrk -t2 -c{CONNECTIONS} -d{DURATION}, median of {REPEATS} runs"
    )
    print(
        f"{'':<14} {'bare req/s':>10} {'app req/s':>10} {'ratio':>6} "
        f"{'bare p99':>9} {'app p99':>9} {'p99 x':>6}"
    )
    for name, (b_rps, b_p99), (a_rps, a_p99) in (
        ("feed page", bare_page, app_page),
        ("keyword lookup", bare_lookup, app_lookup),
    ):
        print(
            f"{name:<14} {b_rps:>10.0f} {a_rps:>10.0f} {a_rps / b_rps:>6.2f} "
            f"{b_p99:>7.1f}ms {a_p99:>7.1f}ms {a_p99 / b_p99:>6.2f}"
        )
    print("targets: ratio >= 0.80, p99 x <= 1.20")
    print(
        f"front page (app)  {app_home[0]:>10.0f} req/s  p99 {app_home[1]:.1f}ms   "
        f"beside the feed page: {app_home[0] / app_page[0]:.2f}x req/s, "
        f"{app_home[1] / app_page[1]:.2f}x p99"
    )
    summary(
        "feed (app/bare req/s)",
        {"feed page": f"{app_page[0] / bare_page[0]:.2f}",
         "keyword lookup": f"{app_lookup[0] / bare_lookup[0]:.2f}",
         "front page / feed page (app)": f"{app_home[0] / app_page[0]:.2f}"},
    )  # fmt: skip


if __name__ == "__main__":
    os.chdir(ROOT)
    asyncio.run(main())
