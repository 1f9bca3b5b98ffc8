"""Lighthouse (npm lighthouse@12, Debian's Chromium) on the pages people open first: the front
page, a feed item, a product and a drop, served as `make run` serves them (the demo community
on PostgreSQL, one uvicorn worker), each audited on a phone (Lighthouse's default mobile
emulation) in Chinese. Prints each category's score (target: 95 or more).

    npm install --prefix var/lighthouse -E lighthouse@12.2.3   (once; LIGHTHOUSE=path/to/cli)
    python -m bench.lighthouse
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ROOT, app_environment, fresh_app_database, orm, serving_app

LIGHTHOUSE = Path(
    os.environ.get("LIGHTHOUSE", ROOT / "var/lighthouse/node_modules/lighthouse/cli/index.js")
)
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


async def pages(dsn: str) -> dict[str, str]:
    """The demo's paths for the four pages."""
    async with orm(dsn):
        from community.feed.models import FeedItem
        from store.models import Product

        item = await FeedItem.filter(members_only=False).order_by("-publish_at").first()
        product = await Product.filter(sale_starts_at=None).order_by("id").first()
        drop = await Product.exclude(sale_starts_at=None).order_by("id").first()
        assert item and product and drop, "the demo community is missing a page"
        return {
            "front page": "/",
            "feed item": f"/feed/items/{item.id}",
            "product": f"/store/products/{product.id}",
            "drop": f"/store/products/{drop.id}",
        }


def audit(url: str) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        subprocess.run(
            [
                "node", str(LIGHTHOUSE), url, "--quiet", "--output=json",
                f"--output-path={report}", f"--only-categories={','.join(CATEGORIES)}",
                "--chrome-flags=--headless=new --no-sandbox --lang=zh-CN",
                "--locale=zh",
            ],
            check=True,
            env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"},
            timeout=300,
        )  # fmt: skip
        found = json.loads(report.read_text())["categories"]
        return {name: round(found[name]["score"] * 100) for name in CATEGORIES}


async def main() -> None:
    async with fresh_app_database("shuyuan_lighthouse") as dsn:
        subprocess.run(
            [sys.executable, "-m", "cli", "demo-data"],
            cwd=ROOT, env=app_environment(dsn), check=True, capture_output=True,
        )  # fmt: skip
        paths = await pages(dsn)
        with serving_app(dsn, workers=1) as base:
            scores = {name: audit(f"{base}{path}") for name, path in paths.items()}
    print(f"{'page':<12}" + "".join(f"{name:>16}" for name in CATEGORIES))
    for name, score in scores.items():
        print(f"{name:<12}" + "".join(f"{score[c]:>16}" for c in CATEGORIES))
    low = {name: s for name, s in scores.items() if min(s.values()) < 95}
    print("all at 95 or more" if not low else f"below 95: {low}")


if __name__ == "__main__":
    os.chdir(ROOT)
    if not LIGHTHOUSE.exists():
        raise SystemExit(
            f"{LIGHTHOUSE} is missing: npm install --prefix var/lighthouse -E lighthouse@12.2.3"
        )
    asyncio.run(main())
