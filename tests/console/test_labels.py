"""Every action the code records in the audit log has a name on the console's pages."""

from __future__ import annotations

import re
from pathlib import Path

from community.board.moderation import FLAGS
from console.labels import ACTION_LABELS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "accounts",
    "community",
    "console",
    "membership",
    "payments",
    "store",
    "support",
    "keywords",
    "referrals",
    "moderation",
)
RECORDED = re.compile(r"""["']([a-z_]+\.[a-z_]+)["']""")


def recorded_actions() -> set[str]:
    """The "<object>.<verb>" literals on the lines that name an action, in the modules that
    call audit.record, and the actions built from parts (a post's flags, a refund against
    its object)."""
    found = set()
    for package in PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            text = source.read_text("utf-8")
            if "audit.record(" not in text or source.name == "labels.py":
                continue
            for line in text.splitlines():
                if "action=" in line or "_record_change(" in line:
                    found |= set(RECORDED.findall(line))
    found |= {f"post.{flag}" for flag in FLAGS}
    found |= {"referral_payout.approve", "referral_payout.reject"}  # referrals.ledger._decide
    found |= {
        f"{kind}.{verb}"
        for kind in ("order", "enrollment", "payment")
        for verb in ("refund", "refund_failed")
    }
    return found


def test_every_recorded_action_has_a_label() -> None:
    actions = recorded_actions()
    assert len(actions) > 30
    assert sorted(actions - set(ACTION_LABELS)) == []
