"""The Shuyuan application: create_app(settings) builds it; `app` is the one uvicorn serves."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from tortoise.contrib.starlette import RegisterTortoise

from accounts import consents, legal_documents
from accounts import services as accounts_services
from accounts import sessions as account_sessions
from accounts.mail import Mailer
from accounts.sessions import Lifetimes
from accounts.sms import SmsSender, make_sender
from accounts.wechat import WechatClient
from community.feed.tasks import flush_forever
from composition import AppWiring, page_context, wire
from db import tortoise_config
from jobs import admin as jobs_admin
from jobs import queue as job_queue
from jobs.embedded import embedded_jobs
from jobs.schedule import JobContext
from jobs.worker import write_counts
from payments.provider import PaymentProvider
from payments.services import providers_for
from pictures import PicturePool
from ratelimit import make_counter
from settings import Settings, SettingsError
from web.api import Decoders
from web.compression import compression
from web.consent import ConsentGate
from web.errors import EXCEPTION_HANDLERS
from web.headers import BrowserProtections
from web.hosts import ServedHosts
from web.limits import BoundedBodies
from web.observe import Observed
from web.sessions import ServerSessions
from web.wiring import Wired

logger = logging.getLogger("shuyuan.app")


def create_app(
    settings: Settings,
    *,
    manage_database: bool = True,
    background_tasks: bool = True,
    wired: AppWiring | None = None,
    payments_provider: PaymentProvider | None = None,
    sms_sender: SmsSender | None = None,
) -> Starlette:
    """Build the app for `settings`, wired with `wired` (by default what composition.wire
    builds for the settings: a test passes its own to register a purpose of its own), paying
    through `payments_provider` (by default the one the settings name; a test may pass another
    implementation of payments.provider.PaymentProvider), texting sign-in codes through
    `sms_sender` (by default the gateway settings.sms names: accounts.sms).

    With `manage_database` (the default) the lifespan opens Tortoise's connections; tests that
    own the database themselves pass False. `background_tasks` writes the feed's counters and,
    when jobs are embedded (SQLite), runs every periodic job (jobs.schedule) while the app is up.
    """

    # Held by this app and bound for its requests and lifespan (web.wiring.Wired): its payment
    # purposes, notice kinds, mail letterhead and memories; no module holds any of them.
    wired = wired if wired is not None else wire(settings)
    memory = wired.memory
    # Attempt counters (failed sign-ins, the buy button): shared through Redis when set.
    counter = make_counter(settings.redis_url)
    mailer = Mailer(settings.smtp_url, settings.mail_from) if settings.smtp_url else None
    # Uploaded pictures are decoded and resized in processes of their own, off the event loop.
    pictures = PicturePool()
    provider: PaymentProvider = payments_provider or providers_for(settings)
    sms = sms_sender or make_sender(settings.sms)

    @asynccontextmanager
    async def background() -> AsyncIterator[None]:
        if not background_tasks:
            yield
            return
        # This worker's counted feed views and keyword lookups reach the database every few
        # seconds (they are its own memory, so its own task writes them). Background jobs run
        # here only when they are embedded (SQLite); else `shuyuan worker` runs them on the
        # job engine.
        tasks = [
            asyncio.create_task(flush_forever(partial(write_counts, memory))),
            # What other workers and hosts change, this one forgets (changes.py).
            asyncio.create_task(wired.bus.listen(memory.heard)),
        ]
        jobs = (
            embedded_jobs(
                JobContext(
                    provider=provider,
                    memory=memory,
                    mailer=mailer,
                    wechat=WechatClient.from_settings(settings),
                    confirm_after_days=settings.confirm_after_days,
                    var_dir=settings.var_dir,
                    order_retention_years=settings.order_retention_years,
                    export_link_hours=settings.export_link_hours,
                )
            )
            if settings.jobs == "embedded"
            else contextlib.nullcontext()
        )
        try:
            async with jobs:
                yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def check_job_queue() -> None:
        # A configuration the pages could only answer with 500s stops start-up instead.
        if settings.jobs == "worker" and not await job_queue.installed():
            raise SettingsError(
                "SHUYUAN_JOBS=worker, but the job queue's tables are missing: "
                "run `shuyuan migrate` first"
            )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            if manage_database:
                # The global fallback makes the ORM context the lifespan opens visible to
                # request tasks too (without it: "No TortoiseContext is currently active").
                async with (
                    RegisterTortoise(
                        app,
                        config=tortoise_config(settings.database_url, pooled=settings.pooled),
                        _enable_global_fallback=True,
                    ),
                ):
                    await check_job_queue()
                    await legal_documents.warn_without_documents(logger)
                    async with background():
                        yield
            else:
                async with background():
                    yield
        finally:
            await counter.aclose()
            await wired.bus.aclose()
            await provider.aclose()
            await sms.aclose()
            await wired.storage.aclose()
            await asyncio.to_thread(pictures.close)

    # Uploaded product pictures are served from here (routing.py); make it before any upload.
    (settings.var_dir / "media").mkdir(parents=True, exist_ok=True)
    app = Starlette(
        routes=wired.routes,
        middleware=[
            Middleware(Wired, wiring=wired.wiring()),
            Middleware(Observed),
            # Any Host not served gets 400 before a route runs (SHUYUAN_ALLOWED_HOSTS).
            Middleware(ServedHosts, allowed_hosts=list(settings.allowed_host_names)),
            compression(),  # zstd, brotli or gzip for text answers (web.compression)
            Middleware(BrowserProtections, settings=settings),
            Middleware(BoundedBodies),
            Middleware(
                ServerSessions,
                secret_key=settings.secret_key,
                store=account_sessions,
                lifetimes=Lifetimes(
                    idle=timedelta(days=settings.session_idle_days),
                    absolute=timedelta(days=settings.session_max_days),
                ),
            ),
            # Until the current terms and privacy policy are agreed, pages lead to them.
            Middleware(ConsentGate),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.counter = counter
    app.state.wiring = wired
    app.state.decoders = Decoders()
    app.state.memory = memory
    app.state.payments_provider = provider
    app.state.sms_sender = sms
    app.state.pictures = pictures
    app.state.before_scrape = partial(jobs_admin.refresh_gauges, settings.jobs)
    # What web/ (the floor under every package) needs from the packages, handed over here.
    app.state.token_owner = accounts_services.user_for_token
    app.state.consent_required = consents.required
    app.state.page_context = page_context
    return app


def __getattr__(name: str) -> Any:
    # The one place that reads the process environment: uvicorn's "app:app", in each worker.
    # `app` is built on first access (by uvicorn's "app:app"), so importing this module has no
    # side effects and tests can import create_app without a configured environment.
    if name == "app":
        return create_app(Settings.from_env(os.environ))
    raise AttributeError(name)
