"""Internal paths and absolute URLs, built from route names (never written by hand).

Every route has a name ("store.order", "api:store.get_order"; routing.py lists them all), and
code and templates ask for a path by name: `links.path("store.order", id=7)` gives
"/store/orders/7". What leaves the site (a mail, a feed, a provider's return address) gets an
absolute URL from `links.absolute(...)`: the path joined to SHUYUAN_PUBLIC_URL, never to the
Host a request came with.

The app binds its own Links (composition.py) for its requests, its jobs and its commands, so
services that store a notification's link call `path` too, without knowing any HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from starlette.routing import BaseRoute, Match, Route

from wiring import Wire


class PathsByName(Protocol):
    """What a Starlette router offers: its routes, and a path from a route's name and
    parameters."""

    routes: list[BaseRoute]

    def url_path_for(self, name: str, /, **path_params: Any) -> Any: ...


MAX_PATHS = 50_000  # paths remembered per app (ids make them many; emptied when full)


@dataclass(frozen=True)
class Links:
    """One app's routes and its public address."""

    router: PathsByName
    public_url: str
    _paths: dict[tuple[str, tuple[tuple[str, Any], ...]], str] = field(
        default_factory=dict, compare=False, repr=False
    )

    def path(self, name: str, /, _query: Mapping[str, Any] | None = None, **params: Any) -> str:
        """The path of route `name` ("/store/orders/7"), with `_query` as its query string
        (values of None are left out)."""
        built = self._path(name, tuple(sorted(params.items())))
        if _query:
            present = {key: value for key, value in _query.items() if value is not None}
            if present:
                # As Jinja's urlencode filter: "/" stays readable ("?next=/store/orders/7").
                built = f"{built}?{urlencode(present, safe='/', quote_via=quote)}"
        return built

    def _path(self, name: str, params: tuple[tuple[str, Any], ...]) -> str:
        # Starlette looks a name up route by route (180 of them, mounts inside): a page asks
        # for dozens of paths, so each (name, parameters) is looked up once per app.
        try:
            return self._paths[(name, params)]
        except KeyError:
            built = str(self.router.url_path_for(name, **dict(params)))
            if len(self._paths) >= MAX_PATHS:
                self._paths.clear()
            self._paths[(name, params)] = built
            return built

    def route_name(self, path: str) -> str | None:
        """The name of the page a GET of `path` reaches ("store.product_page" for
        "/store/products/7"), as the router would choose it (the first route that matches
        path and method); None for no page, or for one inside a Mount (the API, /static)."""
        scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
        for route in self.router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route.name if isinstance(route, Route) else None
        return None

    def absolute(self, name: str, /, _query: Mapping[str, Any] | None = None, **params: Any) -> str:
        """The same, on the public address: for what leaves the site."""
        return self.join(self.path(name, _query, **params))

    def join(self, path: str) -> str:
        """An internal path (from `path`, or stored from it) on the public address."""
        return f"{self.public_url.rstrip('/')}{path}"

    def absolute_with_token(self, name: str, /, token: str) -> str:
        """The absolute URL of a route whose one parameter is a signed, URL-safe `token` (a
        mail's unsubscribe, a broadcast's counted click). Each token is new, so remembering
        its path would fill the cache with paths asked for once (a broadcast makes tens of
        thousands): the route is looked up once with a stand-in, and the token put in."""
        return self.absolute(name, token=_STAND_IN).replace(_STAND_IN, token)


_STAND_IN = "TOKEN-STAND-IN"


LINKS: Wire[Links] = Wire("links")


def path(name: str, /, _query: Mapping[str, Any] | None = None, **params: Any) -> str:
    """The path of route `name` in the app this runs for."""
    return LINKS.get().path(name, _query, **params)


def route_name(path: str) -> str | None:
    """The name of the page a GET of `path` reaches in the app this runs for (Links)."""
    return LINKS.get().route_name(path)


def absolute(name: str, /, _query: Mapping[str, Any] | None = None, **params: Any) -> str:
    """The absolute URL of route `name` on this app's public address."""
    return LINKS.get().absolute(name, _query, **params)


def absolute_with_token(name: str, /, token: str) -> str:
    """The absolute URL of a route taking one signed, URL-safe token (see Links)."""
    return LINKS.get().absolute_with_token(name, token)


def join(path: str) -> str:
    """A stored internal path on this app's public address."""
    return LINKS.get().join(path)
