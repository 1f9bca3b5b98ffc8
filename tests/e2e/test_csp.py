"""The Content-Security-Policy holds in a real browser: every page loads without a violation
(the journeys' own tests watch theirs too), and a script planted inline does not run."""

from __future__ import annotations

import pytest

from app import create_app
from settings import Settings
from tests.contract.test_html_query_walk import page_paths, seed
from tests.e2e.conftest import WatchedBrowser, sign_in_page
from tests.factories import PASSWORD
from tests.live import running_server

pytestmark = pytest.mark.e2e


async def test_every_page_loads_without_a_policy_violation(
    browser: WatchedBrowser, settings: Settings
) -> None:
    admin, ids = await seed()
    paths = page_paths(create_app(settings, manage_database=False), ids)
    assert len(paths) > 30
    with running_server(settings) as base_url:
        page = await browser.new_page(locale="zh-CN")
        await sign_in_page(page, base_url, admin.email, PASSWORD)
        for path in paths:
            if path.endswith((".csv", ".rss")) or "/audio/" in path or "/verify/" in path:
                continue  # not pages: downloads, feeds, media
            await page.goto(f"{base_url}{path}")
            await page.wait_for_load_state("networkidle")
    # The fixture fails the test on any violation reported on the way.


async def test_a_script_planted_inline_does_not_run(
    browser: WatchedBrowser, settings: Settings
) -> None:
    with running_server(settings) as base_url:
        page = await browser.new_page(locale="zh-CN")
        response = await page.goto(f"{base_url}/")
        assert response is not None
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        ran = await page.evaluate(
            """() => new Promise((resolve) => {
                 const script = document.createElement('script');
                 script.textContent = 'window.__planted = true';
                 document.body.appendChild(script);
                 setTimeout(() => resolve(window.__planted === true), 200);
               })"""
        )
        assert ran is False
    planted = [v for v in browser.violations if "script-src" in v]
    assert planted, browser.violations
    browser.violations.clear()  # the one violation this test meant to cause
