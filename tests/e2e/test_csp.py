"""The Content-Security-Policy holds in a real browser: every page loads without a violation
(the journeys' own tests watch theirs too), and a script planted inline does not run."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.async_api import Page

from app import create_app
from settings import Settings
from tests.contract.test_html_query_walk import page_paths, seed
from tests.e2e.conftest import WatchedBrowser
from tests.e2e.nu_checker import html_errors
from tests.e2e.raw_codes import raw_codes
from tests.factories import session_cookie
from tests.live import running_server

pytestmark = pytest.mark.e2e


SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "pages"
# Each page's HTML as the browser holds it once loaded, for the Nu HTML checker.
PAGES_HTML = Path(__file__).resolve().parents[2] / "var" / "html" / "pages"
AXE = (
    Path(__file__).resolve().parents[2] / "var" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
)
LANGUAGES = {"zh": "zh-CN", "en": "en-US"}
WIDTHS = (390, 1280)
# The page's HTML as the browser holds it, with swagger-ui's drawing on /api/docs left out: the
# vendored swagger-ui's own markup is upstream's (buttons holding links, a second <main>), as
# for axe below.
HTML_WITHOUT_SWAGGER_UI = """() => {
  const copy = document.documentElement.cloneNode(true);
  copy.querySelectorAll('.swagger-ui').forEach((drawn) => drawn.replaceChildren());
  return '<!DOCTYPE html>' + copy.outerHTML;
}"""
# axe-core's impacts that fail the walk; "moderate" and "minor" findings are printed only.
FAILING = ("serious", "critical")


async def _preview_a_broadcast(page: Page) -> None:
    """The new broadcast's form, filled in and previewed (a POST: no path of its own)."""
    await page.fill("input[name=title]", "明晚八点：线上读书会")
    await page.fill(
        "textarea[name=body]",
        "明晚八点，我们一起读**百年孤独**的第一章。\n\n- 带上书\n- 带上问题\n\n"
        "[报名页面](https://example.cn/club)",
    )
    await page.check("input[name=audience][value=everyone]")
    await page.click("button[formaction$='/preview']")
    await page.wait_for_load_state("networkidle")


# Pages reached by doing something on a page: the path to open, then what to do there.
AFTER_ACTIONS = {"/admin/broadcasts/new#preview": _preview_a_broadcast}


def _axe_source() -> str:
    if not AXE.exists():
        if os.environ.get("TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{AXE} is missing: make test installs it (npm install axe-core)")
        pytest.skip("axe-core is not installed (make test installs it into var/npm)")
    return AXE.read_text(encoding="utf-8")


@pytest.mark.timeout(1500)  # about 160 page loads with a screenshot and an axe run each
async def test_every_page_in_both_languages_and_widths_keeps_the_policy_and_passes_axe(
    browser: WatchedBrowser, settings: Settings
) -> None:
    """Every page, at 390 and 1280 px, in Chinese and English: no Content-Security-Policy
    violation (the fixture), no serious or critical axe-core finding, a screenshot of each
    in var/screenshots/pages/ (not committed) to look at, and no error from the Nu HTML
    checker in any of them.

    The walk is one of the expensive checks that run once per make test (with the browser
    journeys, TEST_BROWSER), not once per database: the pages are the same on both."""
    axe = _axe_source()
    admin, ids = await seed()
    paths = [
        path
        for path in page_paths(create_app(settings, manage_database=False), ids)
        if not path.endswith((".csv", ".rss", ".ico", ".jpg"))
        and "/audio/" not in path
        and "/verify/" not in path
        and not path.startswith("/lang/")  # not pages: downloads, feeds, pictures, redirects
    ] + list(AFTER_ACTIONS)
    paths.append("/admin/people?q=读者")  # the people search, with a page of results and more
    paths.append("/admin/conversations?status=answered")  # the queue's other tab
    # The keyword box: an auto-reply's cards, and a word nothing answers (each screenshot is
    # named by the path's ASCII).
    paths.append("/feed/lookup?keyword=A5笔记本")
    paths.append("/feed/lookup?keyword=nothing没有")
    paths.append("/admin/keywords?word=我要笔记本")  # the console's box to try a word
    assert len(paths) > 30
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(PAGES_HTML, ignore_errors=True)  # a page gone since the last run is not checked
    PAGES_HTML.mkdir(parents=True)
    findings: list[str] = []

    async def walk(base_url: str, language: str, locale: str, width: int) -> None:
        context = await browser.new_context(locale=locale, viewport={"width": width, "height": 900})
        # seed()'s owner has no email (a phone's account): signed in as a phone's sign-in
        # leaves the browser, so every page is walked as such an account (a session each).
        cookie, key = await session_cookie(admin)
        await context.add_cookies([{"name": cookie, "value": key, "url": base_url}])
        page = await context.new_page()
        for path in paths:
            await page.goto(f"{base_url}{path}")
            await page.wait_for_load_state("networkidle")
            if path in AFTER_ACTIONS:
                await AFTER_ACTIONS[path](page)
            if not await page.evaluate("() => !!document.querySelector('main')"):
                continue  # not a page: a fragment htmx polls, JSON, /metrics
            name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
            await page.screenshot(
                path=SCREENSHOTS / f"{name}-{language}-{width}.png", full_page=True
            )
            html = await (
                page.evaluate(HTML_WITHOUT_SWAGGER_UI) if path == "/api/docs" else page.content()
            )
            (PAGES_HTML / f"{name}-{language}-{width}.html").write_text(html, encoding="utf-8")
            # Evaluated through the devtools protocol, so the page's policy (no inline
            # script) does not stop it and nothing is planted in the page.
            await page.evaluate(axe)
            # /api/docs: our page is checked, the vendored swagger-ui drawn in it is not (its
            # own markup nests buttons and has an unlabelled select: upstream's).
            context_of = "{exclude: [['.swagger-ui']]}" if path == "/api/docs" else "document"
            result = await page.evaluate(
                f"() => axe.run({context_of}, {{resultTypes: ['violations']}})"
            )
            for violation in result["violations"]:
                line = (
                    f"{path} [{language} {width}px] {violation['impact']}: "
                    f"{violation['id']} ({len(violation['nodes'])}x) "
                    f"{violation['nodes'][0]['target']}"
                )
                if violation["impact"] in FAILING:
                    findings.append(line)
                else:
                    print("axe (not failing):", line)
        await context.close()

    with running_server(settings) as base_url:
        # The four walks at once, each in its own browser context: most of a page's time is
        # the wait for its network to fall quiet (networkidle: 500 ms without a request),
        # and the four waits overlap.
        await asyncio.gather(
            *(
                walk(base_url, language, locale, width)
                for language, locale in LANGUAGES.items()
                for width in WIDTHS
            )
        )
    assert findings == [], "axe-core found:\n" + "\n".join(findings)
    # No code where a Chinese reader expects a sentence (a state, a failure code).
    codes = {
        page.name: found
        for page in sorted(PAGES_HTML.glob("*-zh-*.html"))
        if (found := raw_codes(page.read_text(encoding="utf-8")))
    }
    assert codes == {}, f"raw codes on Chinese pages: {codes}"
    # The browser fixture fails the test on any policy violation reported on the way.
    pages = sorted(PAGES_HTML.glob("*.html"))
    errors = html_errors(pages)
    assert errors == [], f"the Nu HTML checker found {len(errors)} errors:\n" + "\n".join(errors)


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
