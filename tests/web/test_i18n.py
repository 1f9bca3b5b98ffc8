"""Every UI string in the templates has a Chinese translation; Chinese is the default."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent.parent


def template_messages() -> set[str]:
    found = extract_from_dir(
        str(ROOT / "templates"),
        method_map=[("**.html", "jinja2")],
        keywords={"_": None, "gettext": None},
    )
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


def test_every_template_string_is_translated_into_chinese() -> None:
    with (ROOT / "locales/zh_CN/LC_MESSAGES/messages.po").open("rb") as po_file:
        catalog = read_po(po_file, locale="zh_CN")
    translated = {message.id for message in catalog if message.id and message.string}
    messages = template_messages()
    assert "Sign in" in messages  # the extraction found the templates
    missing = sorted(messages - translated)
    assert missing == [], f"add these to locales/zh_CN (make messages): {missing}"
