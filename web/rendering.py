"""Turning a request and a template into a response: pages, htmx fragments, flashes, redirects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

import links
from settings import PUBLIC_SECURITY_FILING, Settings
from translation import N_, reason_in
from translation import yuan as yuan
from web.auth import current_user
from web.csrf import csrf_token
from web.i18n import HTML_LANG, choose_locale, translations

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time as people in China read it."""
    if moment is None:
        return ""
    try:
        return moment.astimezone(SHANGHAI).strftime(fmt)
    except (OverflowError, ValueError):  # a stored time at the edge of the calendar
        return moment.strftime(fmt) + " UTC"


def datetime_attribute(moment: datetime) -> str:
    """A stored time as <time datetime="..."> takes it: whole seconds, UTC, with its offset
    (HTML allows at most three digits of a second; isoformat() writes six)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


# Every state a person may see (orders, enrollments, windows, payments, outbox messages), as
# a message id: pages show status_label(value), never the stored value. tests/web/test_i18n.py
# checks that every value of those enums is here and translated.
STATUS_LABELS = {
    "pending_payment": N_("Pending payment"),
    "paid": N_("Paid"),
    "shipped": N_("Shipped"),
    "delivered": N_("Delivered"),
    "cancelled": N_("Cancelled"),
    "refunded": N_("Refunded"),
    "expired": N_("Expired"),
    "failed": N_("Failed"),
    "upcoming": N_("Upcoming"),
    "open": N_("Open"),
    "closed": N_("Closed"),
    "pending": N_("Pending"),
    "requires_action": N_("Waiting for the buyer to confirm"),
    "succeeded": N_("Succeeded"),
    "disputed": N_("Disputed: the provider does not confirm it"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "unknown": N_("Unknown (maybe sent)"),
    # How a payment was made (payments.models.PayMethod).
    "card": N_("Bank card"),
    "wechat_pay": N_("WeChat Pay"),
    "alipay": N_("Alipay"),
    # A job's state in the queue (procrastinate's; succeeded, failed, cancelled are above).
    "todo": N_("Waiting"),
    "doing": N_("Running"),
    "aborting": N_("Being stopped"),
    "aborted": N_("Stopped"),
}


# The main navigation's sections: a page belongs to its route's area ("store.order_page" to
# the store), except the admin pages and these pages of accounts, which are no one's section.
NAV_AREAS = frozenset({"feed", "board", "membership", "store", "accounts"})
OUTSIDE_SECTIONS = frozenset(
    {
        "accounts.notifications_page",
        "accounts.profile_page",
        "accounts.profile_by_name",
        "accounts.unsubscribe",
    }
)


def route_name(request: Request) -> str:
    """The name of the route that answers this request ("" for none: a 404, say)."""
    return str(getattr(request.scope.get("route"), "name", "") or "")


def nav_section(name: str) -> str:
    """The section of the main navigation the page of route `name` belongs to, or ""."""
    area, _, action = name.partition(".")
    if area not in NAV_AREAS or action.startswith("admin") or name in OUTSIDE_SECTIONS:
        return ""
    return area


def console_section(path: str) -> str:
    """The console's section a page under /admin belongs to (its first segment after /admin,
    "console" for /admin itself), or "" outside the console."""
    if path != "/admin" and not path.startswith("/admin/"):
        return ""
    return path.removeprefix("/admin").strip("/").split("/", 1)[0].split(".", 1)[0] or "console"


@dataclass(frozen=True)
class Filing:
    """One line of the footer a mainland site must show, and where it links."""

    text: str  # shown as it is (a filing number), or a message id (translated on the page)
    href: str
    translate: bool = False


# The filing systems the numbers link to, as their rules require.
ICP_SYSTEM = "https://beian.miit.gov.cn/"
PUBLIC_SECURITY_SYSTEM = "https://beian.mps.gov.cn/#/query/webSearch?code="


def footer_filings(settings: Settings) -> tuple[Filing, ...]:
    """The ICP filing, the public-security filing and the business licence the settings
    name, in the order sites show them; none when none is set."""
    filings = []
    if settings.icp_filing:
        filings.append(Filing(settings.icp_filing, ICP_SYSTEM))
    if settings.public_security_filing:
        match = PUBLIC_SECURITY_FILING.fullmatch(settings.public_security_filing)
        code = match.group(1) if match else ""
        filings.append(Filing(settings.public_security_filing, PUBLIC_SECURITY_SYSTEM + code))
    if settings.business_licence_url:
        filings.append(Filing(N_("Business licence"), settings.business_licence_url, True))
    return tuple(filings)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # A template is read once per process, not stat()ed before every render (a twentieth
        # of a page's CPU: bench/morning_push.py); `shuyuan serve --reload` restarts on an edit.
        auto_reload=False,
    )
    env.filters["yuan"] = yuan
    env.filters["shanghai"] = shanghai_time
    env.filters["datetime_attribute"] = datetime_attribute
    # Internal paths by route name: url("store.order_page", id=7), url("static", path="/x.css").
    env.globals["url"] = links.path
    # What leaves the site (link previews, feeds) on SHUYUAN_PUBLIC_URL: absolute("site.home").
    env.globals["absolute"] = links.absolute
    return env


templates = _environment()


def flash(request: Request, message: str, category: str = "info") -> None:
    """Show `message` once, on the next page this browser renders."""
    request.session.setdefault("flash", [])
    request.session["flash"] = [*request.session["flash"], [category, message]]


def _take_flashes(request: Request) -> list[list[str]]:
    return list(request.session.pop("flash", []) or [])


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


async def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    fragment: str | None = None,
) -> HTMLResponse:
    """Render a page, or only `fragment` when htmx asked (the one place that decides)."""
    locale = choose_locale(request)
    catalog = translations(locale)
    user = await current_user(request)
    name = fragment if fragment is not None and is_htmx(request) else template
    route = route_name(request)
    console = console_section(request.url.path)
    section = "console" if console else nav_section(route)
    token = csrf_token(request)
    # What the app factory adds to every page (composition.page_context: the unread badge...).
    added = await request.app.state.page_context(user, locale)
    full_context: dict[str, Any] = {
        "request": request,
        "route_name": route,
        "section": section,
        "console_section": console,
        "_": catalog.gettext,
        # ngettext("%(n)s member", "%(n)s members", n): English has two forms, Chinese one.
        "ngettext": catalog.ngettext,
        "locale": locale,
        "html_lang": HTML_LANG[locale],
        "current_user": user,
        **added,
        "reason": lambda text: reason_in(text, catalog.gettext),
        "status_label": lambda value: catalog.gettext(STATUS_LABELS.get(str(value), str(value))),
        "csrf_token": token,
        "filings": footer_filings(request.app.state.settings),
        "flashes": _take_flashes(request) if name == template else [],
        # base.html's frame, rendered only if the page extends it.
        "frame": Frame(request, locale, user, route, section, token, added),
        **(context or {}),
    }
    html = templates.get_template(name).render(full_context)
    response = HTMLResponse(html, status_code=status_code)
    if fragment is not None:
        response.headers["Vary"] = "HX-Request"
    return response


# Marks in a kept frame (_frame.html): where base.html's blocks go, and what each request puts in.
# A NUL never reaches a frame from a request: the path and query it shows are percent-encoded.
CUT = Markup("\x00cut\x00")  # nosec B704  # a constant
CSRF_MARK = "\x00csrf\x00"
BADGE_MARK = Markup("\x00badge\x00")  # nosec B704  # a constant
MAX_FRAMES = 2048  # kept frames per app (one per language, kind of reader, route, path, query)
MAX_KEPT_URL = 300  # a longer path and query gets its frame rendered, not kept


class Frame:
    """The five pieces of base.html's frame around its blocks (_frame.html), for one request.

    The frame depends only on the language, whether someone is signed in and is staff, the
    route, and the path and query (the footer's links come back to them); it is rendered once
    per such kind and kept on the app, with this request's CSRF token and unread badge put in.
    A page's own blocks are rendered each time, by the page's template."""

    def __init__(
        self,
        request: Request,
        locale: str,
        user: Any,
        route: str,
        section: str,
        token: str,
        added: dict[str, Any],
    ) -> None:
        self.request, self.locale, self.user = request, locale, user
        self.route, self.section, self.token, self.added = route, section, token, added
        self._pieces: list[Markup] | None = None

    def __getitem__(self, index: int) -> Markup:
        if self._pieces is None:
            self._pieces = self._made()
        return self._pieces[index]

    def _made(self) -> list[Markup]:
        request, user = self.request, self.user
        state = request.app.state
        try:
            kept: dict[tuple[Any, ...], list[str]] = state.page_frames
        except AttributeError:
            kept = state.page_frames = {}
        path, query = request.scope["path"], request.scope["query_string"]
        key = (
            self.locale,
            user is None,
            bool(user is not None and user.is_staff),
            self.route,
            path,
            query,
        )
        pieces = kept.get(key)
        if pieces is None:
            pieces = self._rendered()
            if len(path) + len(query) <= MAX_KEPT_URL:
                if len(kept) >= MAX_FRAMES:
                    kept.clear()
                kept[key] = pieces
        badge = unread_badge(self.locale, int(self.added.get("unread_count") or 0))
        token = str(escape(self.token))
        return [
            Markup(piece.replace(CSRF_MARK, token).replace(BADGE_MARK, badge))  # nosec B704  # escaped by the environment
            for piece in pieces
        ]

    def _rendered(self) -> list[str]:
        catalog = translations(self.locale)
        url = self.request.url
        # Only what the key holds: never the person, nor the request beyond path and query.
        html = templates.get_template("_frame.html").render(
            {
                "signed_in": self.user is not None,
                "is_staff": bool(self.user is not None and self.user.is_staff),
                "path": url.path,
                "here": url.path + (f"?{url.query}" if url.query else ""),
                # composition.page_context: the page a contact link comes from.
                "contact_from": self.added.get("contact_from", lambda path: None),
                "route_name": self.route,
                "section": self.section,
                "_": catalog.gettext,
                "locale": self.locale,
                "html_lang": HTML_LANG[self.locale],
                "csrf_token": CSRF_MARK,
                "badge": BADGE_MARK,
                "cut": CUT,
                "filings": footer_filings(self.request.app.state.settings),
            }
        )
        pieces = html.split(CUT)
        assert len(pieces) == 5, "_frame.html has four cuts"  # nosec B101  # a template's shape
        return pieces


_BADGES: dict[tuple[str, int], str] = {}


def unread_badge(locale: str, unread: int) -> str:
    """The inbox link's badge (accounts/_unread_badge.html) for this many unread notices."""
    key = (locale, unread)
    badge = _BADGES.get(key)
    if badge is None:
        if len(_BADGES) >= 1000:
            _BADGES.clear()
        catalog = translations(locale)
        badge = _BADGES[key] = templates.get_template("accounts/_unread_badge.html").render(
            {"_": catalog.gettext, "unread_count": unread}
        )
    return badge


def render_fragment(request: Request, template: str, context: dict[str, Any]) -> Markup:
    """A template rendered with only the locale's `_` and `context`: for parts of a page that
    are the same for every reader of a locale, which callers may cache."""
    locale = choose_locale(request)
    catalog = translations(locale)
    html = templates.get_template(template).render(
        {"_": catalog.gettext, "ngettext": catalog.ngettext, "locale": locale, **context}
    )
    return Markup(html)  # nosec B704  # rendered by the autoescaping environment above


def kept_fragment(
    request: Request,
    kept: dict[str, str],
    template: str,
    context: dict[str, Any],
    *,
    signed_in: bool,
) -> Markup:
    """`template` rendered with `context` (render_fragment) once per language and signed-in
    state, and kept in `kept`: a dict that lives and dies with the shared answer it shows (a
    feed page, the day's item, the front page's parts), so what every reader of one kind sees
    alike is rendered once, not per request. The template is given `signed_in` (a locked voice
    asks a visitor to sign in and a signed-in reader to become a member)."""
    key = f"{choose_locale(request)}:{template}:{int(signed_in)}"
    content = kept.get(key)
    if content is None:
        context = {**context, "signed_in": signed_in}
        content = kept[key] = render_fragment(request, template, context)
    return Markup(content)  # nosec B704  # rendered by the autoescaping environment


def gettext_for(request: Request) -> Any:
    """The `_` of this request's locale, for messages built in route code."""
    return translations(choose_locale(request)).gettext


def on_error_back(request: Request, url: str) -> None:
    """If this form post is refused (a DomainError), send the browser back to `url` with the
    reason as a flash (web.errors); without it, back to the page the form was on."""
    request.state.back = url


def redirect_after_post(request: Request, url: str) -> Response:
    """HX-Redirect for htmx, 303 See Other for a plain form post."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url, "Vary": "HX-Request"})
    return RedirectResponse(url, status_code=303, headers={"Vary": "HX-Request"})
