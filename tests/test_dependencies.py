"""The floors of the house (dependencies.py) hold: every import of the application, at the top
of a module or inside a function, runs along the table."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from dependencies import MAY_IMPORT, NOT_YET, PRIVATE_MODULES

ROOT = Path(__file__).resolve().parent.parent
PARTS = frozenset(MAY_IMPORT)
NOT_APPLICATION = ("tests", "bench", "migrations", ".venv", "var", "build")


def _part(module: str) -> str | None:
    head = module.split(".")[0]
    return head if head in PARTS else None


def application_files() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.py")
        if not path.relative_to(ROOT).parts[0].startswith(NOT_APPLICATION)
    ]


def imports() -> list[tuple[str, str, str]]:
    """(file, importing part, imported module) for every import of the application."""
    found = []
    for path in application_files():
        rel = path.relative_to(ROOT)
        part = _part(".".join(rel.with_suffix("").parts))
        if part is None:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            found.extend((str(rel), part, module) for module in modules if _part(module))
    return found


def test_every_part_of_the_application_has_a_row() -> None:
    parts = {path.relative_to(ROOT).parts[0].removesuffix(".py") for path in application_files()}
    parts -= {"dependencies", "conftest"}
    assert parts <= PARTS, f"add a row to dependencies.MAY_IMPORT for {parts - PARTS}"


def test_every_import_runs_along_the_table() -> None:
    against: dict[tuple[str, str], set[str]] = defaultdict(set)
    private: list[str] = []
    for file, part, module in imports():
        target = _part(module)
        assert target is not None
        if target != part and target not in MAY_IMPORT[part]:
            against[(part, target)].add(file)
        pieces = module.split(".")
        transport = PRIVATE_MODULES & set(pieces[1:])
        if transport and target not in (part, "web") and part not in ("app", "cli", "routing"):
            private.append(f"{file}: {module}")
    assert private == [], "a package imports another's transport:\n" + "\n".join(private)
    unexpected = {arrow: files for arrow, files in against.items() if arrow not in NOT_YET}
    assert unexpected == {}, f"imports against dependencies.MAY_IMPORT: {unexpected}"
    for arrow, files in NOT_YET.items():
        assert against.get(arrow, set()) <= files, f"{arrow} drawn by new modules too"
        assert arrow in against, f"{arrow} is gone: take it off dependencies.NOT_YET"


def test_nothing_imports_the_top() -> None:
    for file, _, module in imports():
        assert module.split(".")[0] not in ("app", "cli"), f"{file} imports {module}"


def test_nothing_imports_the_development_stand_ins() -> None:
    """devserver/ is not shipped: the application starts it as processes, never imports it."""
    for file, part, module in imports():
        if part != "devserver":
            assert module.split(".")[0] != "devserver", f"{file} imports {module}"
