"""The one layout of every mail Shuyuan sends: plain text and HTML (inline CSS, tables: what
mail clients draw), a header with the community's name, the mail's own content, and a footer
saying why the reader gets it and how to stop. In the reader's language.

A mail's content is a MailContent: a heading, paragraphs, optionally a picture, rows (a
receipt's items), facts (label and value: the method, the address, a carrier), a button, and
small print under it. `compose` writes both parts from it; the HTML is
templates/mail/layout.html, the text is written here (the same content, in the same order).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from markupsafe import Markup

from translation import translations
from web.rendering import templates

HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}
TEXT_WIDTH = 72  # the plain part's lines (a Chinese paragraph, without spaces, stays whole)


@dataclass(frozen=True)
class Row:
    """A line of a table: what (an item and its quantity) and how much ("¥68.00")."""

    label: str
    value: str
    strong: bool = False  # the total


@dataclass(frozen=True)
class MailContent:
    heading: str
    lines: tuple[str, ...] = ()  # paragraphs, plain text
    picture_url: str | None = None  # absolute (a product's picture)
    picture_alt: str = ""
    rows: tuple[Row, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()  # (label, value)
    action: tuple[str, str] | None = None  # (label, absolute URL): the mail's one button
    code: str | None = None  # a one-time code, shown large
    body_html: Markup | None = None  # sanitised HTML written by an admin (a broadcast)
    body_text: str = ""  # its plain text
    after: tuple[str, ...] = ()  # small print under the button (a link's lifetime)
    links: tuple[tuple[str, str], ...] = ()  # (label, absolute URL): more places to go
    preheader: str = ""  # the line a mail client shows beside the subject


@dataclass(frozen=True)
class Footer:
    """Why the reader gets the mail, and how to stop: where to choose what they are told, and
    a one-click unsubscribe where the mail has one."""

    why: str
    choose_url: str | None = None
    stop_url: str | None = None


def _wrapped(text: str) -> str:
    return "\n".join(
        textwrap.fill(line, TEXT_WIDTH, break_long_words=False, break_on_hyphens=False) or ""
        for line in text.splitlines()
    )


def compose(content: MailContent, footer: Footer, *, locale: str, subject: str) -> tuple[str, str]:
    """The mail as (plain text, HTML), in `locale`."""
    _ = translations(locale).gettext
    name = _("Shuyuan")
    text: list[str] = [name, "=" * 20, "", content.heading, ""]
    text += [_wrapped(line) + "\n" for line in content.lines]
    if content.code:
        text += [content.code, ""]
    if content.body_text:
        text += [content.body_text.strip(), ""]
    if content.rows:
        width = max(len(row.label) for row in content.rows)
        text += [f"{row.label.ljust(width)}  {row.value}" for row in content.rows] + [""]
    if content.facts:
        text += [f"{label}: {value}" for label, value in content.facts] + [""]
    if content.action:
        label, url = content.action
        text += [f"{label}:", url, ""]
    text += [f"{label}: {url}" for label, url in content.links]
    text += [_wrapped(line) for line in content.after]
    text += ["", "--", _wrapped(footer.why)]
    if footer.choose_url:
        text += [f"{_('Choose what you are told:')} {footer.choose_url}"]
    if footer.stop_url:
        text += [f"{_('Stop these mails (one click):')} {footer.stop_url}"]
    body = templates.get_template("mail/layout.html").render(
        {
            "_": _,
            "html_lang": HTML_LANG.get(locale, "zh-CN"),
            "subject": subject,
            "site_name": name,
            "content": content,
            "footer": footer,
        }
    )
    return "\n".join(text).strip() + "\n", body


def account_mail(content: MailContent, *, locale: str, subject: str) -> tuple[str, str]:
    """A mail about the account itself (an address to verify, a password to reset, a code):
    sent because the address was given here, with no list to leave."""
    _ = translations(locale).gettext
    why = _("You get this mail because this address was given on Shuyuan.")
    return compose(content, Footer(why=why), locale=locale, subject=subject)
