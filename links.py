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
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from wiring import Wire


class PathsByName(Protocol):
    """What a Starlette router offers: a path from a route's name and parameters."""

    def url_path_for(self, name: str, /, **path_params: Any) -> Any: ...


@dataclass(frozen=True)
class Links:
    """One app's routes and its public address."""

    router: PathsByName
    public_url: str

    def path(self, name: str, /, _query: Mapping[str, Any] | None = None, **params: Any) -> str:
        """The path of route `name` ("/store/orders/7"), with `_query` as its query string
        (values of None are left out)."""
        built = str(self.router.url_path_for(name, **params))
        if _query:
            present = {key: value for key, value in _query.items() if value is not None}
            if present:
                # As Jinja's urlencode filter: "/" stays readable ("?next=/store/orders/7").
                built = f"{built}?{urlencode(present, safe='/', quote_via=quote)}"
        return built

    def absolute(self, name: str, /, _query: Mapping[str, Any] | None = None, **params: Any) -> str:
        """The same, on the public address: for what leaves the site."""
        return self.join(self.path(name, _query, **params))

    def join(self, path: str) -> str:
        """An internal path (from `path`, or stored from it) on the public address."""
        return f"{self.public_url.rstrip('/')}{path}"


LINKS: Wire[Links] = Wire("links")


def path(name: str, /, _query: Mapping[str, Any] | None = None, **params: Any) -> str:
    """The path of route `name` in the app this runs for."""
    return LINKS.get().path(name, _query, **params)


def absolute(name: str, /, _query: Mapping[str, Any] | None = None, **params: Any) -> str:
    """The absolute URL of route `name` on this app's public address."""
    return LINKS.get().absolute(name, _query, **params)


def join(path: str) -> str:
    """A stored internal path on this app's public address."""
    return LINKS.get().join(path)
