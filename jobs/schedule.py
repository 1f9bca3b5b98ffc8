"""Every periodic job, once: what it does and how often. Each is idempotent (its changes are
guarded moves in the database), so a run repeated after a crash changes nothing twice."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from accounts import departures, devices, outbox, phones, requested_mail, wechat_jssdk
from accounts.mail import Mailer
from accounts.wechat import WechatClient
from crm import broadcasts
from jobs import runs
from jobs.worker import WorkerMemory
from keywords import misses as keyword_misses
from membership import tasks as membership_tasks
from metrics import JOB_SECONDS
from payments import services as payments
from payments.provider import PaymentProvider
from privacy import erasure, retention
from privacy import export as privacy_export
from stats import rollups
from store import services as store

log = logging.getLogger("jobs")


@dataclass(frozen=True)
class JobContext:
    """What a job may use: the payment provider, and the web worker's memory when the job
    runs inside it (embedded; a separate worker has none)."""

    provider: PaymentProvider
    memory: WorkerMemory | None = None
    mailer: Mailer | None = None  # None: no SMTP_URL, mail waits in the outbox
    wechat: WechatClient | None = None  # None: the JS-SDK's ticket is not kept here
    confirm_after_days: int = 10  # settings.confirm_after_days: 确认收货 by itself
    # settings.var_dir: where members' copies of their data are written before they go into the
    # storage; None: a context without files (the jobs needing it skip)
    var_dir: Path | None = None
    order_retention_years: int = 3  # settings.order_retention_years: a departed person's orders
    export_link_hours: int = 72  # settings.export_link_hours: how long a copy's link works


Run = Callable[[JobContext, datetime], Awaitable[Any]]


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: int  # divides 60 or is a whole number of minutes (a cron period)
    run: Run


async def deliver_outbox(context: JobContext, now: datetime) -> Any:
    # Mail asked for without signing in (reset links, sign-in codes) first joins the outbox.
    await requested_mail.send_due(now=now)
    stuck = await outbox.settle_stuck(now=now)
    delivered = await outbox.deliver_for(context.mailer, now=now)
    return {"stuck": stuck, **vars(delivered)} if stuck or any(vars(delivered).values()) else None


async def reconcile_payments(context: JobContext, now: datetime) -> Any:
    return await payments.reconcile(context.provider, now=now)


async def release_expired_orders(context: JobContext, now: datetime) -> Any:
    memory = context.memory.store if context.memory else None
    return await store.release_expired_orders(provider=context.provider, now=now, memory=memory)


async def draw_due_raffles(context: JobContext, now: datetime) -> Any:
    memory = context.memory.store if context.memory else None
    return await store.draw_due_raffles(now=now, memory=memory)


async def confirm_received(context: JobContext, now: datetime) -> Any:
    confirmed = await store.confirm_received(now=now, days=context.confirm_after_days)
    return {"confirmed": confirmed} if confirmed else None


async def send_drop_reminders(context: JobContext, now: datetime) -> Any:
    return await store.send_drop_reminders(now=now)


async def maintain_membership(context: JobContext, now: datetime) -> Any:
    memory = context.memory.seats if context.memory else None
    counts = await membership_tasks.maintain(context.provider, now=now, memory=memory)
    return counts if any(counts.values()) else None  # logged only when it did something


async def refresh_stats(context: JobContext, now: datetime) -> Any:
    refreshed = await rollups.refresh(now=now)
    return refreshed if refreshed.days > 2 else None  # logged when it backfilled


async def send_broadcasts(context: JobContext, now: datetime) -> Any:
    sent = await broadcasts.send_due(now=now)
    return sent if any(vars(sent).values()) else None


async def prune_keyword_misses(context: JobContext, now: datetime) -> Any:
    pruned = await keyword_misses.prune(now=now)
    return {"pruned": pruned} if pruned else None


async def prune_codes(context: JobContext, now: datetime) -> Any:
    pruned = await phones.prune_codes(now=now) + await devices.prune_codes(now=now)
    return {"pruned": pruned} if pruned else None


async def refresh_wechat_jssdk(context: JobContext, now: datetime) -> Any:
    # The one place the official account's token and ticket are fetched, for every host.
    return await wechat_jssdk.refresh(context.wechat, now=now) if context.wechat else None


async def erase_departed(context: JobContext, now: datetime) -> Any:
    if context.var_dir is None:
        return None
    erased = await erasure.erase_due(now=now, var_dir=context.var_dir)
    # The ledger forgets an erasure once no backup from before it is kept (30 days).
    forgotten = await departures.forget_old(now=now)
    if not erased and not forgotten:
        return None
    return {"erased": [done.user_id for done in erased], "ledger_forgotten": forgotten}


async def purge_retained_orders(context: JobContext, now: datetime) -> Any:
    purged = await retention.purge_retained(now=now, years=context.order_retention_years)
    return purged if any(vars(purged).values()) else None


async def write_data_exports(context: JobContext, now: datetime) -> Any:
    if context.var_dir is None:
        return None
    written = await privacy_export.write_pending(
        var_dir=context.var_dir, link_hours=context.export_link_hours, now=now
    )
    return written if written.ready or written.failed else None


async def expire_data_exports(context: JobContext, now: datetime) -> Any:
    expired = await privacy_export.expire_old(now=now)
    return {"expired": expired} if expired else None


PERIODIC: tuple[Job, ...] = (
    Job("accounts.deliver_outbox", 5, deliver_outbox),
    Job("payments.reconcile", 60, reconcile_payments),
    Job("store.release_expired_orders", 10, release_expired_orders),
    Job("store.draw_due_raffles", 10, draw_due_raffles),
    Job("store.send_drop_reminders", 30, send_drop_reminders),
    Job("store.confirm_received", 1800, confirm_received),
    Job("membership.maintain", 10, maintain_membership),
    Job("stats.refresh", 60, refresh_stats),
    Job("crm.send_broadcasts", 5, send_broadcasts),
    Job("keywords.prune_misses", 1800, prune_keyword_misses),
    Job("accounts.prune_codes", 1800, prune_codes),
    Job("accounts.refresh_wechat_jssdk", 300, refresh_wechat_jssdk),
    Job("privacy.erase_departed", 60, erase_departed),
    Job("privacy.purge_retained_orders", 1800, purge_retained_orders),
    Job("privacy.write_exports", 10, write_data_exports),
    Job("privacy.expire_exports", 300, expire_data_exports),
)


def utc_now() -> datetime:
    return datetime.now(UTC)


async def run_timed(job: Job, context: JobContext) -> None:
    """One run of `job` (the engine's and the embedded scheduler's alike): its time in
    shuyuan_job_seconds by outcome, a log line when it did something. Errors go on to the
    caller, which retries (engine) or logs and waits for the next period (embedded)."""
    started = time.perf_counter()
    started_at = utc_now()
    outcome = "failed"
    try:
        done = await job.run(context, started_at)
        outcome = "succeeded"
        if done:
            log.info("job done", extra={"job": job.name, "result": str(done)})
    finally:
        JOB_SECONDS.labels(job=job.name, outcome=outcome).observe(time.perf_counter() - started)
        await runs.record_run(job.name, started_at=started_at, succeeded=outcome == "succeeded")
