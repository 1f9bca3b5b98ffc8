"""tests/deploy/ starts Debian's nginx and PgBouncer: without them these tests are skipped, unless
TEST_REQUIRE_DEPLOY=1 (CI), where their absence fails the run. They need PostgreSQL (the hosts
share one database, the job worker runs on it), so they run once per `make test`: in its
PostgreSQL pass. A module that needs other programs names them in DEPLOY_PROGRAMS
(test_units.py: systemd-analyze)."""

from __future__ import annotations

import os

import pytest

from tests.deploy.harness import NGINX, PGBOUNCER


@pytest.fixture(scope="module", autouse=True)
def deploy_programs(request: pytest.FixtureRequest) -> None:
    needed = getattr(request.module, "DEPLOY_PROGRAMS", (NGINX, PGBOUNCER))
    missing = [str(program) for program in needed if not program.exists()]
    if not missing:
        return
    message = f"{', '.join(missing)} missing (apt install nginx pgbouncer systemd)"
    if os.environ.get("TEST_REQUIRE_DEPLOY") == "1":
        pytest.fail(f"{message} and TEST_REQUIRE_DEPLOY=1")
    pytest.skip(message)
