"""The API keeps its contract: schemathesis over every /api/v1 operation on a real server.

Runs the schemathesis CLI against `shuyuan serve` on this run's database, with every check on
and the seed and example counts of tests/contract/schemathesis.toml: once with a member's
token, once with an admin's, and last, on a throwaway account of its own, the two operations
that end the caller's own credentials (revoking the token, changing the password). Business
rules that may refuse schema-valid input are listed per operation in that file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accounts import notices
from community.board import services as board
from community.feed import editing as feed_editing
from crm import broadcasts, segments
from crm.models import AudienceKind
from keywords import rules as keyword_rules
from keywords.checks import KeywordInput, ReplyInput
from membership import services as membership
from payments import services as payments
from payments.provider import PaymentProvider
from payments.services import PaymentChoice
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from support import services as support
from tests.factories import address, make_member, make_user, make_window, token_for
from tests.live import ROOT, running_server

pytestmark = [pytest.mark.contract, pytest.mark.timeout(1200)]

RULES = Path(__file__).with_name("schemathesis.toml")
IDS = Path(__file__).with_name("ids.toml")
ENDS_CREDENTIALS = (
    "delete_revoke_current_token",
    "post_change_password",
    "delete_end_session",
    "delete_end_other_sessions",
    "post_ask_deletion",  # leaving (注销): with the password, every way in ends
)


async def seed(provider: PaymentProvider) -> dict[str, str]:
    """Something of every kind, so the run reaches the rules and not only "not found"."""
    now = datetime.now(UTC)
    admin = await make_user(role="owner")  # owners reach every console operation, roles too
    staff_target = await make_user()  # whose role the run changes (never the owner's)
    member = await make_member(days=10)  # a member who may renew: enrolls and posts
    window = await make_window(now=now, seats=1_000)
    product = await store.create_product(
        title="书签", description="", category="文具", price_fen=100, stock=10_000
    )
    held = await store.place_order(
        buyer=member,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=now,
        counter=MemoryCounter(),
    )
    paid = await store.place_order(
        buyer=member,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=now,
        counter=MemoryCounter(),
        shipping=address(),
    )
    payment = await store.pay_order(
        provider=provider,
        order_id=paid.id,
        user=member,
        choice=PaymentChoice(payment_method="pm_card_visa"),
        now=now,
    )
    assert payment.outcome == payments.Outcome.PAID
    enrollment = await membership.enroll(window_id=window.id, user=member, now=now)
    item = await feed_editing.create_item(
        title="今日", body="正文", keyword="契约", author=admin, now=now
    )
    post, _ = await board.create_post(
        author=member,
        category="knowledge",
        title="读书",
        body="分享",
        counter=MemoryCounter(),
        now=now,
    )
    note = await notices.notify(member.id, kind="welcome", params={"name": "你好"})
    assert note is not None
    segment, _count = await segments.create(
        actor=admin, name="会员", rules=segments.SegmentFilter(membership="member"), now=now
    )
    broadcast = await broadcasts.create(  # tomorrow: today's one push is left for the run
        actor=admin,
        title="明天见",
        body="明天的书单",
        audience=broadcasts.Audience(AudienceKind.EVERYONE),
        send_at=now + timedelta(days=1),
        now=now,
    )
    conversation = await support.start(  # the member's, which the admin (staff) answers too
        member, body="会员卡在哪里看？", page="/membership", now=now, counter=MemoryCounter()
    )
    auto_reply = await keyword_rules.create_rule(
        actor=admin,
        keywords=[KeywordInput("书签", "contain")],
        replies=[ReplyInput("text", text="书签在店里"), ReplyInput("product", id=product.id)],
        now=now,
    )
    return {
        "ADMIN_TOKEN": await token_for(admin),
        "MEMBER_TOKEN": await token_for(member),
        "THROWAWAY_TOKEN": await token_for(await make_user()),
        "MEMBER_ID": str(member.id),
        "STAFF_TARGET_ID": str(staff_target.id),
        "WINDOW_ID": str(window.id),
        "PRODUCT_ID": str(product.id),
        "ORDER_ID": str(held.id),
        "PAYMENT_ID": str(payment.payment.id),
        "ENROLLMENT_ID": str(enrollment.id),
        "FEED_ITEM_ID": str(item.id),
        "POST_ID": str(post.id),
        "NOTIFICATION_ID": str(note.id),
        "SEGMENT_ID": str(segment.id),
        "BROADCAST_ID": str(broadcast.id),
        "CONVERSATION_ID": str(conversation.id),
        "AUTO_REPLY_ID": str(auto_reply.id),
    }


def run_schemathesis(
    base_url: str, token: str, env: dict[str, str], *args: str, with_ids: bool = False
) -> None:
    """One run; `with_ids` fixes path ids to what seed() made (then positive data only)."""
    config = Path(env["REPORT_DIR"]) / (
        "schemathesis-ids.toml" if with_ids else "schemathesis.toml"
    )
    config.write_text(RULES.read_text() + ("\n" + IDS.read_text() if with_ids else ""))
    if with_ids:
        args = (*args, "--mode", "positive", "--phases", "examples,coverage,fuzzing")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{base_url}/api/v1/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {token}",
        "--no-color",
        *args,
    ]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = done.stdout + done.stderr
    report = Path(env["REPORT_DIR"]) / f"schemathesis-{token[-6:]}-{int(with_ids)}.txt"
    report.write_text(output)
    assert done.returncode == 0, f"{report}:\n{output[-12_000:]}"
    assert " passed" in output or "No issues found" in output, output[-3_000:]


async def test_every_operation_keeps_the_contract_for_members_admins_and_last_the_credentials(
    settings: Settings, provider: PaymentProvider
) -> None:
    env = {**await seed(provider), "REPORT_DIR": str(settings.var_dir)}
    skip_credentials = [arg for op in ENDS_CREDENTIALS for arg in ("--exclude-operation-id", op)]
    only_credentials = [arg for op in ENDS_CREDENTIALS for arg in ("--include-operation-id", op)]
    with running_server(settings) as base_url:
        for token in (env["MEMBER_TOKEN"], env["ADMIN_TOKEN"]):
            run_schemathesis(base_url, token, env, *skip_credentials, with_ids=True)
            run_schemathesis(base_url, token, env, *skip_credentials)
        run_schemathesis(base_url, env["THROWAWAY_TOKEN"], env, *only_credentials)
