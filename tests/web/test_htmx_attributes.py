"""Templates write htmx's attributes as valid HTML: data-hx-*, never a bare hx-*, and no colon
in an attribute's name (htmx's config in base.html spells `:inherited` as `-inherited`)."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

# An attribute's name starts after whitespace; `request.headers.get("hx-request")` is no attribute.
BARE = re.compile(r"(?<![^\s])hx-[\w:-]+")
COLON = re.compile(r"(?<![^\s])data-hx-[\w-]*:[\w:-]*")
COMMENT = re.compile(r"\{#.*?#\}", re.S)


def _attributes(pattern: re.Pattern[str]) -> list[str]:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = COMMENT.sub("", path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(TEMPLATES)}: {name}" for name in pattern.findall(text)]
    return found


def test_no_template_writes_a_bare_hx_attribute() -> None:
    assert _attributes(BARE) == []
    # ... and the check still sees the attributes, written the valid way.
    assert len(_attributes(re.compile(r"(?<![^\s])data-hx-[\w-]+"))) > 25


def test_no_htmx_attribute_name_has_a_colon() -> None:
    assert _attributes(COLON) == []
