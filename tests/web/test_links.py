"""Internal paths are built from route names (links.py): every route is named, once, and no
template writes a path by hand."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import BaseRoute, Mount

import links
from composition import AppWiring

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
STATIC_JS = Path(__file__).resolve().parents[2] / "static" / "js"

# A quote or `=` followed by "/" and a letter, "{" or the closing quote: a path written by
# hand ("/store/orders/{{ id }}", "/"). Files inside a mount are asked for by name too, with
# their place inside it as the `path` argument (url("static", path="/css/site.css")).
HAND_WRITTEN = re.compile(r"""[="'`]/(?:[A-Za-z_{]|["'])|\}\}/[A-Za-z_{]""")
COMMENT = re.compile(r"\{#.*?#\}", re.S)
MOUNT_PATH = re.compile(r"""\bpath=(["'])/[^"']*\1""")


def named_routes(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, BaseRoute]]:
    found = []
    for route in routes:
        if isinstance(route, Mount) and route.routes:
            found += named_routes(list(route.routes), f"{prefix}{route.name}:")
        else:
            found.append((prefix + (getattr(route, "name", None) or ""), route))
    return found


def test_every_route_has_a_name_of_its_own(wired: AppWiring) -> None:
    names = [name for name, _ in named_routes(wired.routes)]
    assert len(names) > 150
    # Named on purpose ("<area>.<action>"), not by Starlette's default (the function's name).
    unnamed = [name for name in names if "." not in name and name not in ("static", "media")]
    assert unnamed == []
    assert sorted({name for name in names if names.count(name) > 1}) == []


def test_a_path_is_built_from_a_route_name_and_its_parameters(wired: AppWiring) -> None:
    assert links.path("store.order_page", id=7) == "/store/orders/7"
    assert links.path("api:store.get_order", id=7) == "/api/v1/orders/7"
    assert links.path("static", path="/css/site.css") == "/static/css/site.css"
    assert links.path("accounts.login_page", _query={"next": "/a?b=c"}) == (
        "/account/login?next=/a%3Fb%3Dc"
    )
    assert (
        links.path("store.listing", _query={"category": "文具 & 书", "view": None})
        == "/store?category=%E6%96%87%E5%85%B7%20%26%20%E4%B9%A6"
    )


def test_an_absolute_url_is_on_the_public_address_not_a_request_host(wired: AppWiring) -> None:
    public = wired.links.public_url.rstrip("/")
    assert links.absolute("accounts.reset_page", token="abc") == f"{public}/account/reset/abc"
    assert links.join("/store/orders/7") == f"{public}/store/orders/7"


def hand_written_paths(text: str) -> list[str]:
    text = MOUNT_PATH.sub("path=''", COMMENT.sub("", text))
    return [
        text[max(0, m.start() - 30) : m.end() + 30].replace("\n", " ")
        for m in HAND_WRITTEN.finditer(text)
    ]


def test_the_check_finds_a_hand_written_path() -> None:
    assert hand_written_paths('<a href="/store/orders/{{ order.id }}">') != []
    assert hand_written_paths("""{% set more = "/board?cursor=" ~ c %}""") != []
    assert hand_written_paths('<a href="/">') != []
    assert hand_written_paths('<form action="{{ urls.base }}/pay">') != []
    assert hand_written_paths("""<a href="{{ url('store.listing') }}">""") == []
    assert hand_written_paths("""<script src="{{ url('static', path='/js/ui.js') }}">""") == []


def test_no_template_or_script_writes_an_internal_path_by_hand() -> None:
    files = sorted(TEMPLATES.rglob("*.html")) + sorted(STATIC_JS.glob("*.js"))
    assert len(files) > 60
    found = {
        str(file.relative_to(TEMPLATES.parent)): paths
        for file in files
        if (paths := hand_written_paths(file.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_every_name_a_template_asks_for_is_a_route(wired: AppWiring) -> None:
    names = {name for name, route in named_routes(wired.routes)} | {"static", "media"}
    asked = set()
    for file in TEMPLATES.rglob("*.html"):
        asked |= set(re.findall(r"""url\(\s*["']([\w.:]+)["']""", file.read_text("utf-8")))
    assert asked, "the templates ask for no route by name"
    assert sorted(asked - names) == []
