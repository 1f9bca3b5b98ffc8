"""Vendored front-end files are the ones static/vendor/VERSIONS names: same bytes (sha256)."""

from __future__ import annotations

import hashlib
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor"


def test_every_vendored_file_is_listed_with_its_hash() -> None:
    listed = {}
    for line in (VENDOR / "VERSIONS").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            parts = line.split()
            listed[parts[0]] = parts[-1]
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    shipped = {
        str(path.relative_to(VENDOR))
        for path in VENDOR.rglob("*")
        if path.is_file() and path.suffix in (".js", ".css", ".svg")
    }
    # Data read by the server stays beside its reader (store/data/), listed by its path here.
    assert shipped == {name for name in listed if not name.startswith("../")}
