"""The footer a mainland site must show: its ICP filing, its public-security filing and its
business licence, each linking where its rules say, on every page, when the settings name them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from app import create_app
from composition import AppWiring
from settings import Settings, SettingsError

ICP = "京ICP备2026000001号-1"
POLICE = "京公网安备11010502000001号"
LICENCE = "https://scjg.example.gov.cn/licence/91110000MA00000000"


@pytest.fixture
async def filed(settings: Settings, wired: AppWiring) -> AsyncIterator[httpx.AsyncClient]:
    filed_settings = dataclasses.replace(
        settings, icp_filing=ICP, public_security_filing=POLICE, business_licence_url=LICENCE
    )
    app = create_app(filed_settings, manage_database=False, background_tasks=False, wired=wired)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await app.state.counter.aclose()
    await app.state.payments_provider.aclose()
    app.state.pictures.close()


def footer(html: str) -> str:
    found = re.search(r'<footer class="site-footer">(.*?)</footer>', html, re.S)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("path", ["/", "/store", "/account/login", "/no-such-page"])
async def test_every_page_shows_the_filings_with_their_links(
    filed: httpx.AsyncClient, path: str
) -> None:
    page = await filed.get(path, headers={"Accept-Language": "zh-CN"})
    shown = footer(page.text)
    assert (
        f'<a href="https://beian.miit.gov.cn/" rel="noopener noreferrer" target="_blank">{ICP}</a>'
        in shown
    )
    assert (
        '<a href="https://beian.mps.gov.cn/#/query/webSearch?code=11010502000001" '
        f'rel="noopener noreferrer" target="_blank">{POLICE}</a>'
    ) in shown
    assert f'<a href="{LICENCE}" rel="noopener noreferrer" target="_blank">营业执照</a>' in shown


async def test_the_licence_is_named_in_the_readers_language(filed: httpx.AsyncClient) -> None:
    page = await filed.get("/", headers={"Accept-Language": "en"})
    assert ">Business licence</a>" in footer(page.text)


async def test_without_the_settings_the_footer_shows_no_filing(client: httpx.AsyncClient) -> None:
    shown = footer((await client.get("/")).text)
    assert "filings" not in shown
    assert "beian" not in shown
    assert "中文" in shown  # the footer is still there, with the language switch


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("icp_filing", "ICP 2026"),
        ("icp_filing", "京ICP备号"),
        ("public_security_filing", "京公网安备123号"),
        ("business_licence_url", "javascript:alert(1)"),
    ],
)
def test_a_malformed_filing_stops_start_up(settings: Settings, field: str, value: str) -> None:
    with pytest.raises(SettingsError):
        dataclasses.replace(settings, **{field: value})


def test_the_filings_are_read_from_the_environment(tmp_path: object) -> None:
    read = Settings.from_env(
        {
            "SECRET_KEY": "k" * 40,
            "SHUYUAN_VAR_DIR": str(tmp_path),
            "SHUYUAN_ICP_FILING": ICP,
            "SHUYUAN_PUBLIC_SECURITY_FILING": POLICE,
            "SHUYUAN_BUSINESS_LICENCE_URL": LICENCE,
        }
    )
    assert (read.icp_filing, read.public_security_filing, read.business_licence_url) == (
        ICP,
        POLICE,
        LICENCE,
    )
