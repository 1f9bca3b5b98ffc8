"""deploy/pgbouncer/pgbouncer.ini: the file an operator fills with envsubst is the one the tests
run (harness.running_pgbouncer), and it pools by transaction in front of PostgreSQL."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import asyncpg
import pytest

from tests.deploy.harness import (
    PGBOUNCER_INI,
    pgbouncer_values,
    pgbouncer_values_names,
    render_pgbouncer,
    running_pgbouncer,
)

OPERATOR_VALUES = pgbouncer_values(
    host="10.0.0.20", port=5432, listen_port=6432, auth_file=Path("/etc/shuyuan/users.txt")
)


def test_the_header_shows_every_value_the_file_leaves_to_the_operator() -> None:
    header = PGBOUNCER_INI.read_text(encoding="utf-8").split("[databases]", 1)[0]
    assert pgbouncer_values_names() == set(OPERATOR_VALUES)
    assert {name for name in OPERATOR_VALUES if f"{name}=" not in header} == set()


@pytest.mark.skipif(shutil.which("envsubst") is None, reason="envsubst (gettext-base) missing")
def test_envsubst_fills_the_file_as_the_tests_do() -> None:
    template = PGBOUNCER_INI.read_text(encoding="utf-8")
    # The operator's command, from the file's header.
    command = next(x for x in template.splitlines() if x.lstrip(";# ").startswith("envsubst "))
    shell_format = command.split('"', 2)[1]
    filled = subprocess.run(
        ["sh", "-c", f'envsubst "{shell_format}"'],
        input=template,
        env={**OPERATOR_VALUES, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert filled == render_pgbouncer(OPERATOR_VALUES)
    assert re.search(r"^pool_mode = transaction$", filled, flags=re.MULTILINE)
    assert "SCRAM-SHA-256$4096" in filled  # the header's example left as written


@pytest.mark.postgres_only
async def test_the_shipped_file_pools_transactions(database_url: str) -> None:
    with running_pgbouncer(database_url, pool_size=1) as pooled:
        # Two clients, one server connection: each transaction has it while it runs (in session
        # mode the second client would wait for the first to leave, and time out here).
        first, second = [
            await asyncpg.connect(pooled.replace("postgres://", "postgresql://", 1),
                                  statement_cache_size=0, timeout=10)
            for _ in range(2)
        ]  # fmt: skip
        try:
            pids = {
                await client.fetchval("SELECT pg_backend_pid()", timeout=10)
                for client in (first, second)
            }
            assert len(pids) == 1
        finally:
            await first.close()
            await second.close()
