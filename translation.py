"""Translations without HTTP: gettext catalogs read from locales/, for pages (web.i18n picks
the locale of a request) and for what is rendered away from one (mails, notices).

Message ids are the English text, so English needs no catalog entries and a missing Chinese
entry shows English rather than nothing. tests/web/test_i18n.py fails if a message id used in
code or templates has no zh_CN translation.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Callable
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DEFAULT_LOCALE = "zh_CN"
SUPPORTED_LOCALES = ("zh_CN", "en")


def N_(message: str) -> str:
    """Mark `message` for extraction; it is translated where it is shown."""
    return message


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The catalog for a locale, compiled from its .po file once per process."""
    po_path = LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return gettext.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def supported(locale: str | None) -> str:
    """`locale` if it is one we speak, else the default."""
    return locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE


def yuan(price_fen: int | None) -> str:
    """12345 -> ¥123.45. Money is integer fen everywhere and is formatted only here."""
    if price_fen is None:
        return ""
    sign = "-" if price_fen < 0 else ""
    whole, fen = divmod(abs(price_fen), 100)
    return f"{sign}¥{whole:,}.{fen:02d}"


_NUMBER = re.compile(r"\d[\d,]*")
# Reasons built with numbers in them (f"must be at most {MAX} characters") are translated by
# their shape: the numbers taken out, the template looked up, the numbers put back.
REASON_TEMPLATES = (
    N_("must be at least %(n)s characters"),
    N_("must be at most %(n)s characters"),
    N_("must be at most %(n)s MB"),
    N_("must be at least %(n)s"),
    N_("must be at least %(n)s pixels wide and high"),
    N_("must be at most %(n)s"),
    N_("must have at least %(n)s entries"),
    N_("must have at most %(n)s entries"),
    N_("must be a whole number from %(n)s to %(m)s"),
    N_("must list %(n)s to %(m)s products"),
    N_("each line must be at most %(n)s characters"),
    N_("each question must be at most %(n)s characters"),
    N_("each answer must be at most %(n)s characters"),
)


def reason_in(reason: str, gettext: Callable[[str], str]) -> str:
    """A field's reason in the language of `gettext`: as written, else by its shape (the
    numbers in it kept)."""
    translated = gettext(reason)
    numbers = _NUMBER.findall(reason)
    if translated != reason or not 1 <= len(numbers) <= 2:
        return translated
    names = iter(("n", "m"))
    template = _NUMBER.sub(lambda _match: f"%({next(names)})s", reason)
    shaped = gettext(template)
    if shaped == template:
        return translated
    return shaped % dict(zip(("n", "m"), numbers, strict=False))
