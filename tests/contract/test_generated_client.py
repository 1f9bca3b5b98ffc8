"""A client generated from the OpenAPI document (openapi-python-client, as an API user would
make one) comes out whole: no warning, no model skipped, no answer left out. Names that
collide (two components called the same) or an answer the generator cannot read fail here."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

pytestmark = [pytest.mark.contract, pytest.mark.timeout(600)]

WARNINGS = ("warning", "unable to", "cannot", "skipping", "duplicate")


async def test_a_generated_python_client_has_no_warnings(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    validate(document)
    titles = [schema.get("title") for schema in document["components"]["schemas"].values()]
    assert len(titles) == len(set(titles)), "two components share a title"
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    generator = Path(sys.executable).with_name("openapi-python-client")
    made = await asyncio.to_thread(
        subprocess.run,
        [str(generator), "generate", "--path", str(path), "--output-path", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=500,
        # The generator formats what it writes with ruff, found on PATH (this venv's).
        env={**os.environ, "PATH": f"{generator.parent}{os.pathsep}{os.environ['PATH']}"},
    )
    said = (made.stdout + made.stderr).lower()
    assert made.returncode == 0, said[-2000:]
    assert not [word for word in WARNINGS if word in said], said[-2000:]
    models = tmp_path / "out" / "shuyuan_api_client" / "models"
    assert (models / "error.py").exists() and (models / "order_cancelled.py").exists()
