"""Referrals' pages: the share action (a form on every shareable page) and the share page it
leads to (the short link, the poster, WeChat's share card), a short link's visit (/s/<code>),
its poster, and the referrer's own page (/account/referrals: links, numbers, money, payouts).
The JSON API (referrals.api) is their twin."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

import links
from accounts.wechat_share import wechat_share_context
from errors import DomainError
from referrals import attribution, ledger, numbers, share_links
from referrals.errors import SharedThingNotFound, ShareLinkNotFound
from referrals.models import Payout, SharedKind, ShareLink, Source
from web.auth import current_user, require_user
from web.csrf import read_form
from web.i18n import choose_locale
from web.rendering import flash, gettext_for, on_error_back, redirect_after_post, render

POSTER_LANGUAGE = {"zh_CN": "zh", "en": "en"}


async def share(request: Request) -> Response:
    """The share action: the signed-in person's link to the thing, and its share page."""
    user = await require_user(request)
    form = await read_form(request)
    object_id = str(form.get("object_id", ""))[:12]
    link = await share_links.link_for(
        user,
        str(form.get("object_type", ""))[:20],
        int(object_id) if _DIGITS.fullmatch(object_id) else -1,
        datetime.now(UTC),
    )
    return redirect_after_post(request, links.path("referrals.share_page", code=link.code))


async def _link(code: str) -> ShareLink:
    # Only what a code can be reaches the database (no NUL, nothing long).
    link = await ShareLink.get_or_none(code=code) if share_links.CODE.fullmatch(code) else None
    if link is None:
        raise ShareLinkNotFound()
    return link


def poster_language(request: Request) -> str:
    return POSTER_LANGUAGE.get(choose_locale(request), "zh")


async def share_page(request: Request) -> Response:
    """A link's share page: the link to copy, its poster to save, and inside WeChat's browser
    the share card (the JS-SDK's), pointing at the short link."""
    link = await _link(request.path_params["code"])
    now = datetime.now(UTC)
    try:
        thing = await share_links.shared_thing(link.object_type.value, link.object_id, now)
    except SharedThingNotFound:
        raise HTTPException(status_code=404) from None
    viewer = await current_user(request)
    if viewer is None or viewer.id != link.sharer_id:
        # Someone else's share page is theirs: a visitor is sent to the thing (uncounted).
        return RedirectResponse(thing_path(link), status_code=303)
    language = poster_language(request)
    wechat_link = share_links.short_url(link, Source.WECHAT)
    poster = share_links.poster_url(link, language)
    return await render(
        request,
        "referrals/share.html",
        {
            "link": link,
            "thing": thing,
            "short_url": share_links.short_url(link),
            "poster_url": poster,
            "wechat_share": await wechat_share_context(
                request,
                title=thing.title,
                description=thing.teaser,
                link=wechat_link,
                image_url=thing.image_path or poster,
            ),
        },
    )


async def visit(request: Request) -> Response:
    """A visit through a short link: counted (in batches), remembered as the visitor's
    referrer (a cookie, or their account), and sent on to the thing's page (302)."""
    link = await _link(request.path_params["code"])
    now = datetime.now(UTC)
    settings = request.app.state.settings
    source_text = request.query_params.get("from", "link")[:10]
    source = Source(source_text) if source_text in share_links.SOURCES else Source.LINK
    viewer = await current_user(request)
    response = RedirectResponse(thing_path(link), status_code=302)
    if viewer is not None and viewer.id == link.sharer_id:
        return response  # the sharer trying their own link: neither a visit nor a referral
    await attribution.visited(
        link,
        source,
        viewer,
        tally=request.app.state.memory.tally,
        now=now,
        days=settings.referral_days,
    )
    if viewer is None:
        response.set_cookie(
            attribution.COOKIE,
            attribution.cookie_value(settings.secret_key, link, source),
            max_age=settings.referral_days * 86400,
            httponly=True,
            samesite="lax",
            secure=settings.public_url.startswith("https://"),
        )
    return response


def thing_path(link: ShareLink) -> str:
    """The page of a link's thing (read from the link alone: a visit costs no other query)."""
    if link.object_type == SharedKind.FEED_ITEM:
        return links.path("feed.item_page", id=link.object_id)
    if link.object_type == SharedKind.POST:
        return links.path("board.post_page", id=link.object_id)
    if link.object_type == SharedKind.PRODUCT:
        return links.path("store.product_page", id=link.object_id)
    return links.path("membership.window_page")


async def poster(request: Request) -> Response:
    """A link's poster, a PNG (?lang=zh|en), drawn once per what it shows."""
    link = await _link(request.path_params["code"])
    language = request.query_params.get("lang", "zh")[:5]
    try:
        png = await share_links.poster_png(
            link,
            language if language in share_links.POSTER_LANGUAGES else "zh",
            now=datetime.now(UTC),
        )
    except SharedThingNotFound:
        raise HTTPException(status_code=404) from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=300"})


async def _mine_context(request: Request, user: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    rows = await numbers.my_links(user)
    titles: dict[int, str] = {}
    for row in rows:
        try:
            thing = await share_links.shared_thing(
                row.link.object_type.value, row.link.object_id, now
            )
            titles[row.link.id] = thing.title
        except DomainError:
            titles[row.link.id] = ""
    return {
        "rows": rows,
        "titles": titles,
        "short_url": share_links.short_url,
        "money": await ledger.balance(user.id, now=now),
        "refund_days": request.app.state.settings.refund_days,
        "payouts": await Payout.filter(referrer_id=user.id).order_by("-requested_at").limit(20),
    }


async def mine_page(request: Request) -> Response:
    user = await require_user(request)
    return await render(request, "referrals/mine.html", await _mine_context(request, user))


async def ask_payout(request: Request) -> Response:
    user = await require_user(request)
    form = await read_form(request)
    on_error_back(request, links.path("referrals.mine_page"))
    amount_fen = yuan_to_fen(str(form.get("amount_yuan", "")))
    await ledger.request_payout(user.id, amount_fen, datetime.now(UTC))
    flash(request, gettext_for(request)("Payout requested."), "success")
    return redirect_after_post(request, links.path("referrals.mine_page"))


_DIGITS = re.compile(r"[0-9]{1,10}")
_YUAN = re.compile(r"^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$")


def yuan_to_fen(text: str) -> int:
    """An amount typed in yuan ("12", "12.5", "12.50") in fen; 0 for anything else (refused
    by the ledger with a message): no float, so "1e309", "nan" or "inf" cost nothing."""
    found = _YUAN.match(text[:20])
    if found is None:
        return 0
    return int(found.group(1)) * 100 + int((found.group(2) or "0").ljust(2, "0"))


def routes() -> list[BaseRoute]:
    return [
        Route("/s/{code:str}", visit, methods=["GET"], name="referrals.visit"),
        Route("/s/{code:str}/poster.png", poster, methods=["GET"], name="referrals.poster"),
        Route("/share", share, methods=["POST"], name="referrals.share"),
        Route("/share/{code:str}", share_page, methods=["GET"], name="referrals.share_page"),
        Route("/account/referrals", mine_page, methods=["GET"], name="referrals.mine_page"),
        Route(
            "/account/referrals/payouts", ask_payout, methods=["POST"], name="referrals.ask_payout"
        ),
    ]
