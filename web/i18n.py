"""UI translations: gettext catalogs read from locales/, a locale chosen per request."""

from __future__ import annotations

import gettext
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import HTTPConnection

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DEFAULT_LOCALE = "zh_CN"
SUPPORTED_LOCALES = ("zh_CN", "en")
LOCALE_COOKIE = "lang"
# <html lang> values for each locale.
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The catalog for a locale, compiled from its .po file once per process.

    Keys are the English text, so English needs no catalog entries and a missing Chinese entry
    shows English rather than nothing.
    """
    po_path = LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return gettext.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


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
    for tag in _accept_language(connection.headers.get("accept-language", "")):
        locale = locale_for_tag(tag)
        if locale is not None:
            return locale
    return DEFAULT_LOCALE
