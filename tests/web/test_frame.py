"""Every page's frame (templates/_frame.html) is rendered once per kind of request and kept
(web.rendering.Frame): what differs between two readers of one kind (the CSRF token, the unread
badge) is theirs on each page, what differs between kinds (staff, language, the path the footer
comes back to) is never shared, and the kept frames are bounded."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette

from accounts import notices
from tests.factories import make_user, sign_in
from web import rendering

HX_TOKEN = re.compile(r'data-hx-headers-inherited=\'\{"X-CSRF-Token": "([^"]+)"\}\'')


def transport_client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def badge(html: str) -> str:
    found = re.search(r'<span id="unread-badge".*?</span>', html, re.S)
    assert found is not None
    return found.group(0)


async def test_two_readers_of_one_kind_each_see_their_own_token_and_badge(app: Starlette) -> None:
    busy = await make_user(email="busy@example.cn")
    await make_user(email="quiet@example.cn")
    for n in range(3):
        await notices.notify(busy.id, kind="welcome", params={"name": f"{n}"})
    pages = {}
    for email in ("busy@example.cn", "quiet@example.cn", "busy@example.cn"):
        async with transport_client(app) as http:
            await sign_in(http, email)
            page = await http.get("/store")
            assert page.status_code == 200
            token = HX_TOKEN.search(page.text)
            assert token is not None
            pages.setdefault(email, []).append((token.group(1), badge(page.text), page.text))
            if email.startswith("quiet"):
                continue
            # The frame's token is this session's: htmx sends it, and it is taken.
            read = await http.post(
                "/account/notifications/read-all",
                headers={"X-CSRF-Token": token.group(1), "HX-Request": "true"},
            )
            assert read.status_code in (200, 303), read.status_code
    (busy_token, busy_badge, _), (again_token, again_badge, _) = pages["busy@example.cn"]
    ((quiet_token, quiet_badge, quiet_page),) = pages["quiet@example.cn"]
    assert len({busy_token, again_token, quiet_token}) == 3
    assert 'data-unread="3"' in busy_badge
    assert "data-unread" not in quiet_badge and "\x00" not in quiet_page
    assert "data-unread" not in again_badge  # read since: the badge is this request's
    kinds = [key for key in app.state.page_frames if key[4] == "/store"]
    assert len(kinds) == 1  # one frame, kept, for the three pages


async def test_staff_language_and_path_are_kinds_of_their_own(app: Starlette) -> None:
    await make_user(email="member@example.cn")
    await make_user(email="staff@example.cn", role="support")
    seen = {}
    for email in ("member@example.cn", "staff@example.cn"):
        async with transport_client(app) as http:
            await sign_in(http, email)
            seen[email] = (await http.get("/store")).text
            await http.get("/lang/en?next=/store")  # the footer's link
            seen[f"{email} en"] = (await http.get("/store?page=2")).text
    assert 'href="/admin"' in seen["staff@example.cn"]
    assert 'href="/admin"' not in seen["member@example.cn"]
    assert 'lang="en"' in seen["member@example.cn en"] and ">Store<" in seen["member@example.cn en"]
    assert 'lang="zh-CN"' in seen["member@example.cn"]
    # The footer's language links come back to the page they are on, query and all.
    assert "next=/store%3Fpage%3D2" in seen["member@example.cn en"]
    assert "next=/store%3Fpage%3D2" not in seen["member@example.cn"]


async def test_a_visitor_a_member_and_staff_on_one_path_each_get_their_own_frame(
    app: Starlette,
) -> None:
    await make_user(email="member@example.cn", name="会员小周")
    await make_user(email="staff@example.cn", role="support", name="客服小吴")
    async with transport_client(app) as http:
        visitor = (await http.get("/store")).text
        first = (await http.get("/store?page=2")).text
    seen = {}
    for email in ("member@example.cn", "staff@example.cn"):
        async with transport_client(app) as http:
            await sign_in(http, email)
            seen[email] = (await http.get("/store")).text
    assert 'href="/account/login"' in visitor and 'id="unread-badge"' not in visitor
    member, staff = seen["member@example.cn"], seen["staff@example.cn"]
    assert 'href="/account/login"' not in member and 'id="unread-badge"' in member
    assert 'href="/admin"' not in member and 'href="/admin"' in staff
    # One language, two queries: each footer comes back to its own page.
    assert "next=/store%3Fpage%3D2" in first and "next=/store%3Fpage%3D2" not in visitor
    # What is kept is the frame of a kind, never a person's (_frame.html is not given one).
    frames = app.state.page_frames.items()
    kept = [pieces for key, pieces in frames if key[4:] == ("/store", b"")]
    assert len(kept) == 3  # a visitor's, a member's, staff's
    assert all("小周" not in "".join(p) and "小吴" not in "".join(p) for p in kept)


async def test_the_kept_frames_are_bounded(app: Starlette) -> None:
    async with transport_client(app) as http:
        long_query = "q=" + "x" * rendering.MAX_KEPT_URL
        page = await http.get(f"/store?{long_query}")
        assert page.status_code == 200 and "x" * rendering.MAX_KEPT_URL in page.text  # not kept
        kept = app.state.page_frames
        assert not any(key[5] == long_query.encode() for key in kept)
        for n in range(rendering.MAX_FRAMES + 5):
            kept[("x", True, False, "r", f"/{n}", b"")] = ["", "", "", "", ""]
            if len(kept) >= rendering.MAX_FRAMES:
                break
        await http.get("/store?n=1")
        assert len(kept) == 1  # emptied when full, then this page's kept
