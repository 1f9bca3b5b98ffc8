"""The Nu HTML checker (vnu.jar from npm vnu-jar, which make test puts in var/npm) over pages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
VNU = ROOT / "var" / "npm" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def _java() -> str:
    java = shutil.which("java")
    missing = ([] if java else ["java"]) + ([] if VNU.exists() else [str(VNU)])
    if missing:
        why = f"missing {' and '.join(missing)} (make test installs vnu-jar, .ci/run installs java)"
        if os.environ.get("TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the Nu HTML check cannot run, and TEST_REQUIRE_BROWSER=1: {why}")
        pytest.skip(f"the Nu HTML check is skipped: {why}")
    assert java is not None
    return java


def html_errors(files: list[Path]) -> list[str]:
    """Every error the checker finds in `files`, one line each: file, line, message, extract.

    One JVM for all of them: starting it costs seconds, checking a page milliseconds."""
    java = _java()
    run = subprocess.run(
        [java, "-jar", str(VNU), "--errors-only", "--format", "json", "--stdout"]
        + [str(file) for file in files],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        messages = json.loads(run.stdout)["messages"]
    except (ValueError, KeyError):
        raise AssertionError(f"vnu.jar answered no report:\n{run.stdout}\n{run.stderr}") from None
    errors = []
    for message in messages:
        name = Path(unquote(urlparse(message.get("url", "")).path)).name
        extract = " ".join(message.get("extract", "").split())
        errors.append(f"{name}:{message.get('lastLine', '?')}: {message['message']} [{extract}]")
    return errors
