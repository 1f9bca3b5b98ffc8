"""`shuyuan reconcile-payments` settles open payments from the command line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from payments.models import Payment, PaymentStatus
from settings import Settings
from tests.factories import make_user
from tests.live import ROOT, server_environment


async def test_the_command_counts_a_payment_whose_purpose_it_cannot_settle(
    settings: Settings,
) -> None:
    buyer = await make_user()
    payment = await Payment.create(
        user_id=buyer.id,
        purpose="cli_test",  # no handlers in the command's process: counted, not crashed
        subject_id="1",
        amount_fen=100,
        active_key="cli_test:1",
    )
    await Payment.filter(id=payment.id).update(updated_at=datetime.now(UTC) - timedelta(hours=1))
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "reconcile-payments"],
        cwd=ROOT,
        env=server_environment(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "open payments settled: no_handlers 1" in result.stdout
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.PENDING
