"""UI translations: gettext catalogs read from locales/, a locale chosen per request."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from translation import DEFAULT_LOCALE, SUPPORTED_LOCALES, translations

__all__ = ["DEFAULT_LOCALE", "SUPPORTED_LOCALES", "choose_locale", "translations"]

LOCALE_COOKIE = "lang"
# <html lang> values for each locale.
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}


def _accept_language(header: str) -> list[str]:
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            weighted.append((-quality, position, tag.strip().lower()))
    return [tag for _, _, tag in sorted(weighted) if tag != "*"]


def locale_for_tag(tag: str) -> str | None:
    tag = tag.lower().replace("_", "-")
    if tag.startswith("zh"):
        return "zh_CN"
    if tag.startswith("en"):
        return "en"
    return None


def choose_locale(connection: HTTPConnection) -> str:
    """The `lang` cookie if it names a supported locale, else the best of Accept-Language."""
    cookie = connection.cookies.get(LOCALE_COOKIE, "")
    if cookie in SUPPORTED_LOCALES:
        return cookie
    return _from_header(connection) or DEFAULT_LOCALE


def _from_header(connection: HTTPConnection) -> str | None:
    for tag in _accept_language(connection.headers.get("accept-language", "")):
        locale = locale_for_tag(tag)
        if locale is not None:
            return locale
    return None


def api_locale(connection: HTTPConnection, user: Any = None) -> str:
    """The API's language: an explicit Accept-Language we speak, else the caller's account's
    choice (User.locale), else the default."""
    return _from_header(connection) or getattr(user, "locale", None) or DEFAULT_LOCALE
