"""The README and docs/ say what the code is: every setting is documented, every folder and
module the README's layout names exists, every part of the application is in the layout, and
every link between the pages leads somewhere."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from dependencies import MAY_IMPORT
from settings import KNOWN_VARIABLES, Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")


def layout() -> list[str]:
    """The paths the README's layout block names at the start of its lines."""
    block = README.split("## Layout", 1)[1].split("```", 2)[1]
    return [line.split()[0] for line in block.splitlines() if line and not line[0].isspace()]


def test_every_setting_and_variable_is_in_the_configuration_page() -> None:
    fields = {field.name for field in dataclasses.fields(Settings)}
    missing_fields = {name for name in fields if f"`{name}`" not in CONFIGURATION}
    missing_variables = {name for name in KNOWN_VARIABLES if f"`{name}`" not in CONFIGURATION}
    assert missing_fields == set(), "Settings fields missing from docs/configuration.md"
    assert missing_variables == set(), "variables missing from docs/configuration.md"


def test_every_path_in_the_readmes_layout_exists() -> None:
    named = layout()
    assert len(named) > 15
    missing = [path for path in named if not (ROOT / path.rstrip("/")).exists()]
    assert missing == []


def test_every_part_of_the_application_is_in_the_layout() -> None:
    block = README.split("## Layout", 1)[1]
    parts = set(MAY_IMPORT) | {"templates", "static", "locales", "migrations", "tests", "bench"}
    absent = {
        part for part in parts if not re.search(rf"(^|\s){re.escape(part)}(/|\.py)", block, re.M)
    }
    assert absent == set()


def test_the_readme_is_short_and_its_links_lead_somewhere() -> None:
    assert len(README.splitlines()) <= 130
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not (page.parent / target).exists():
                broken.append(f"{page.name} -> {target}")
    assert broken == []
    linked = set(re.findall(r"\(docs/([a-z-]+\.md)\)", README))
    assert linked == {page.name for page in (ROOT / "docs").glob("*.md")}


def test_the_capacity_on_paper_traces_each_number_to_a_benchmark() -> None:
    """docs/scaling.md reasons from measured rows (M1, M2...): each row names a benchmark that
    exists and prints it, and the reasoning uses no row the table does not define."""
    text = (ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (M\d+) \|.*`(bench\.[a-z_]+)`", text, re.M))
    assert len(rows) >= 10
    for row, module in rows.items():
        assert (ROOT / module.replace(".", "/")).with_suffix(".py").exists(), (row, module)
    used = set(re.findall(r"\bM\d+\b", text))
    assert used <= set(rows), used - set(rows)
