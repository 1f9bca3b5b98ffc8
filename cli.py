"""The `shuyuan` command: migrate, create-admin, demo-data, reconcile-payments, serve, and the
uploads' backups (backup-storage, restore-storage)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess  # nosec B404  # starts localstripe with fixed arguments
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from tortoise import Tortoise
from tortoise.migrations.api.migrate import migrate as run_migrations

import backups
import composition
from db import tortoise_config
from errors import DomainError
from settings import LOCAL_HOSTS, Settings, SettingsError
from storage import STORAGE


def ensure_sqlite_dir(database_url: str) -> None:
    """SQLite creates the file but not its folder."""
    if database_url.startswith("sqlite://"):
        parts = urlsplit(database_url)
        path = Path(parts.netloc + parts.path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)


async def migrate(settings: Settings) -> None:
    """Apply every checked-in migration that the database lacks."""
    ensure_sqlite_dir(settings.database_url)
    try:
        await run_migrations(config=tortoise_config(settings.direct_url))
    finally:
        await Tortoise.close_connections()
    await _with_database(settings, rebuild_search_index)
    if settings.is_postgres:
        # Whatever SHUYUAN_JOBS says today: a later switch to `shuyuan worker` then needs no
        # second migrate, and the queue's pages never meet a missing table.
        from jobs.engine import install_schema

        if await install_schema(settings.direct_url):
            print("installed the job queue's tables (procrastinate)")


async def work(
    settings: Settings, also: Sequence[str], concurrency: int, reconnect_for: float = 300
) -> int:
    """`shuyuan worker`: run every periodic job (jobs.schedule.PERIODIC, and the JOBS of each
    module in `also`) on the job engine until SIGTERM or SIGINT; jobs under way finish first."""
    import importlib

    import changes
    from accounts.mail import Mailer
    from accounts.wechat import WechatClient
    from jobs import queue as job_queue
    from jobs.engine import HEARTBEAT_SECONDS, STALLED_AFTER_SECONDS, make_engine
    from jobs.schedule import PERIODIC, JobContext
    from jobs.supervisor import SHUTDOWN_GRACE_SECONDS, database_answers, supervise
    from payments import services

    if settings.jobs != "worker":
        raise SystemExit("shuyuan worker needs PostgreSQL (SQLite runs its jobs inside serve)")
    provider = services.providers_for(settings)
    jobs = [*PERIODIC, *(job for name in also for job in importlib.import_module(name).JOBS)]
    mailer = Mailer(settings.smtp_url, settings.mail_from) if settings.smtp_url else None
    context = JobContext(
        provider=provider,
        mailer=mailer,
        wechat=WechatClient.from_settings(settings),
        confirm_after_days=settings.confirm_after_days,
        var_dir=settings.var_dir,
        order_retention_years=settings.order_retention_years,
        export_link_hours=settings.export_link_hours,
    )
    # The job queue LISTENs and locks: always on PostgreSQL itself; the jobs' own queries go
    # where the app's do.
    engine = make_engine(settings.direct_url, context, jobs)
    await Tortoise.init(config=tortoise_config(settings.database_url, pooled=settings.pooled))
    try:
        if not await job_queue.installed():
            print("shuyuan: the job queue's tables are missing: run `shuyuan migrate` first")
            return 2
        async with engine.open_async():
            return await supervise(
                lambda: engine.run_worker_async(
                    concurrency=concurrency,
                    update_heartbeat_interval=HEARTBEAT_SECONDS,
                    stalled_worker_timeout=STALLED_AFTER_SECONDS,
                    install_signal_handlers=False,  # supervise() owns SIGTERM and SIGINT
                    shutdown_graceful_timeout=SHUTDOWN_GRACE_SECONDS,
                ),
                database_answers=lambda: database_answers(engine),
                reconnect_for=reconnect_for,
            )
    finally:
        await Tortoise.close_connections()
        await provider.aclose()
        # What main() wired for the jobs: the changes bus's connections (Redis or PostgreSQL)
        # and the storage's (the bucket's pool), released in the loop that used them.
        await changes.BUS.get().aclose()
        await STORAGE.get().aclose()


async def rebuild_search_index() -> None:
    """Build the search index when it is empty while there are documents (a migration that
    changed how words are folded empties it; the index is made by the services' own code)."""
    from community.board.models import Post
    from community.board.services import reindex_all as reindex_posts
    from community.feed.editing import reindex_all as reindex_items
    from community.feed.models import FeedItem
    from community.models import SearchTerm

    if await SearchTerm.exists() or not (await FeedItem.exists() or await Post.exists()):
        return
    print(f"search index built again: {await reindex_items()} items, {await reindex_posts()} posts")


async def _with_database(settings: Settings, work: Callable[[], Awaitable[None]]) -> None:
    ensure_sqlite_dir(settings.database_url)
    await Tortoise.init(config=tortoise_config(settings.direct_url))
    try:
        await work()
    finally:
        await Tortoise.close_connections()


async def create_admin(settings: Settings, email: str, password: str) -> None:
    from accounts import services

    async def work() -> None:
        user = await services.create_admin(email=email, password=password)
        print(f"admin {user.email} (id {user.id}) is ready")

    await _with_database(settings, work)


async def demo_data(settings: Settings) -> None:
    import demo
    from payments import services

    # The history's payments are recorded as this provider's answers; it is asked nothing.
    provider = services.make_provider(
        api_base=settings.stripe_api_base,
        secret_key=settings.stripe_secret_key,
        webhook_secret=settings.stripe_webhook_secret,
    )

    async def work() -> None:
        created = await demo.load(settings.var_dir, provider=provider)
        print("demo data loaded" if created else "demo data already present; nothing changed")

    try:
        await _with_database(settings, work)
    finally:
        await provider.aclose()


async def reconcile_payments(settings: Settings) -> None:
    from payments import services

    provider = services.providers_for(settings)

    async def work() -> None:
        counts = await services.reconcile(provider, now=datetime.now(UTC))
        print(
            "open payments settled: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none")
        )

    try:
        await _with_database(settings, work)
    finally:
        await provider.aclose()


async def erase_again(settings: Settings) -> None:
    """`shuyuan erase-again`, after the database was restored from a backup: everyone the
    ledger of departures (accounts.departures, in the storage) says asked to leave is set to
    be erased again when it was due; the worker's erasure job does it (docs/backups.md)."""
    from accounts import departures

    async def work() -> None:
        again = await departures.erase_again(now=datetime.now(UTC))
        named = f": {', '.join(str(user_id) for user_id in again)}" if again else ""
        print(f"accounts set to be erased again: {len(again)}{named}")

    try:
        await _with_database(settings, work)
    finally:
        await STORAGE.get().aclose()


async def backup_storage(where: str, keep_days: int, settings: Settings) -> None:
    """`shuyuan backup-storage`: a snapshot of every upload at `where` (backups.py)."""
    place = backups.destination(where, settings)
    try:
        done = await backups.back_up(
            STORAGE.get(), place, now=datetime.now(UTC), keep_days=keep_days
        )
    finally:
        await place.aclose()
        await STORAGE.get().aclose()
    print(
        f"snapshot {done.snapshot}: {done.objects} objects, {done.copied} copied "
        f"({done.bytes_copied} bytes), {done.unchanged} unchanged since the last one"
    )
    for name in done.deleted:
        print(f"deleted snapshot {name} (older than {keep_days} days, or unfinished)")


async def restore_storage(where: str, snapshot: str | None, settings: Settings) -> None:
    """`shuyuan restore-storage`: a snapshot's uploads put back into the storage."""
    place = backups.destination(where, settings)
    try:
        done = await backups.restore(place, STORAGE.get(), snapshot=snapshot)
    finally:
        await place.aclose()
        await STORAGE.get().aclose()
    print(
        f"restored snapshot {done.snapshot}: {done.objects} objects, {done.copied} written "
        f"({done.bytes_copied} bytes), {done.unchanged} there already"
    )


def _answers(host: str, port: int) -> bool:
    """Whether something already listens at host:port."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _checkout() -> Path:
    """The checkout whose devserver/ (the development stand-ins, not shipped) is started."""
    here = Path(__file__).resolve().parent
    if not (here / "devserver").is_dir():
        raise SystemExit(
            "shuyuan: --with-localstripe and --with-mail-catcher run devserver/, which only a "
            "checkout of Shuyuan has (it is not installed with the package)"
        )
    return here


@contextmanager
def local_stripe(settings: Settings, app_host: str, app_port: int) -> Iterator[None]:
    """Run localstripe at STRIPE_API_BASE (a local address) and point its webhooks at the app."""
    parts = urlsplit(settings.stripe_api_base)
    if parts.hostname not in ("127.0.0.1", "localhost") or parts.port is None:
        raise SystemExit(
            f"shuyuan: --with-localstripe needs STRIPE_API_BASE on 127.0.0.1 with a port, "
            f"not {settings.stripe_api_base}"
        )
    if _answers(parts.hostname or "127.0.0.1", parts.port):
        raise SystemExit(
            f"shuyuan: port {parts.port} (STRIPE_API_BASE) is taken, maybe by a localstripe "
            f"left behind; stop it (fuser -k {parts.port}/tcp) and run again"
        )
    print(f"starting localstripe (fake Stripe) on port {parts.port}", flush=True)
    process = subprocess.Popen(  # nosec B603  # our own module, fixed arguments
        [sys.executable, "-m", "devserver.localstripe", "--port", str(parts.port), "--quiet"],
        cwd=_checkout(),
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{settings.stripe_api_base}/js.stripe.com/v3/", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("shuyuan: localstripe did not start") from None
                time.sleep(0.2)
        webhook_host = "127.0.0.1" if app_host in ("0.0.0.0", "::") else app_host  # nosec B104  # compares, binds nothing
        httpx.post(
            f"{settings.stripe_api_base}/_config/webhooks/shuyuan",
            data={
                "url": f"http://{webhook_host}:{app_port}/payments/webhook",
                "secret": settings.stripe_webhook_secret,
            },
            timeout=5,
        ).raise_for_status()
        print(f"localstripe (fake Stripe) at {settings.stripe_api_base}", flush=True)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


MAIL_CATCHER_PORT = 1025


@contextmanager
def mail_catcher(settings: Settings) -> Iterator[None]:
    """A local SMTP server (devserver.mail_catcher) that keeps every mail the app sends as a
    file in var/mail/new/, for development: the app sends to it unless SMTP_URL is set."""
    if settings.smtp_url:
        print(f"mail goes to SMTP_URL ({urlsplit(settings.smtp_url).hostname})", flush=True)
        yield
        return
    folder = (settings.var_dir / "mail").resolve()
    process = subprocess.Popen(  # nosec B603  # our own module, fixed arguments
        [sys.executable, "-m", "devserver.mail_catcher", "--port", str(MAIL_CATCHER_PORT),
         str(folder)],
        cwd=_checkout(),
    )  # fmt: skip
    time.sleep(0.5)
    if process.poll() is not None:
        port = MAIL_CATCHER_PORT
        print(f"shuyuan: no mail catcher (is port {port} taken?); mail waits in the outbox")
        yield
        return
    os.environ["SMTP_URL"] = f"smtp://127.0.0.1:{MAIL_CATCHER_PORT}"  # read by the app's workers
    print(f"mail catcher: every mail sent is kept as a file in {folder}/new/", flush=True)
    try:
        yield
    finally:
        os.environ.pop("SMTP_URL", None)
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def sign_in_stand_ins(settings: Settings) -> Iterator[None]:
    """The development stand-ins of WeChat's sign-in (devserver.wechat) at WECHAT_OAUTH_BASE
    and of the SMS gateway (devserver.sms) at SMS_ENDPOINT, with the settings' apps and key;
    each text message sent is kept as a file in var/sms/. Only local addresses are served:
    where a setting points elsewhere, that service is the real one and nothing is started."""
    processes = []
    oauth = urlsplit(settings.wechat_oauth_base)
    apps = [
        ("official", settings.wechat_official),
        ("website", settings.wechat_website),
    ]
    if oauth.hostname in LOCAL_HOSTS and oauth.port and any(app for _, app in apps):
        arguments = ["--port", str(oauth.port)]
        for kind, app in apps:
            if app is not None:
                arguments += ["--app", f"{kind}:{app.app_id}:{app.secret}"]
        processes.append(("WeChat sign-in", oauth.port, "devserver.wechat", arguments))
    sms = settings.sms
    if sms is not None and sms.endpoint.partition(":")[0] in LOCAL_HOSTS:
        port = int(sms.endpoint.rpartition(":")[2] or 80)
        folder = (settings.var_dir / "sms").resolve()
        arguments = [
            "--port", str(port), "--folder", str(folder),
            "--access-key", f"{sms.access_key_id}:{sms.access_key_secret}",
            "--sign", sms.sign_name,
            "--template", f"{sms.template}=您的验证码为${{code}}，5分钟内有效。",
        ]  # fmt: skip
        processes.append(("SMS gateway", port, "devserver.sms", arguments))
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name, port, module, arguments in processes:
            if _answers("127.0.0.1", port):
                raise SystemExit(
                    f"shuyuan: port {port} ({name} stand-in) is taken; stop what holds it "
                    f"(fuser -k {port}/tcp) and run again"
                )
            started.append(
                subprocess.Popen(  # nosec B603  # our own module, arguments from settings
                    [sys.executable, "-m", module, *arguments], cwd=_checkout()
                )
            )
            print(f"{name} stand-in on 127.0.0.1:{port} ({module})", flush=True)
        yield
    finally:
        for process in started:
            process.terminate()
            process.wait(timeout=10)


@contextmanager
def wechat_pay_stand_in(settings: Settings) -> Iterator[None]:
    """The development stand-in of WeChat Pay's API v3 (devserver.wechatpay) at
    WECHATPAY_API_BASE, with the settings' merchant, when that address is local (see
    _wallet_stand_in). Elsewhere WeChat Pay is the real one and nothing is started."""
    account = settings.wechat_pay
    api = urlsplit(settings.wechatpay_api_base)
    if account is None or api.hostname not in LOCAL_HOSTS or not api.port:
        yield
        return
    arguments = [
        "--keys", str(account.private_key.parent.resolve()),
        "--mchid", account.mchid, "--appid", account.appid,
        "--apiv3-key", account.apiv3_key,
        "--mode", "public_key" if account.public_key_id else "certificate",
        "--h5-domain", urlsplit(settings.public_url).hostname or "127.0.0.1",
    ]  # fmt: skip
    with _wallet_stand_in("WeChat Pay", "devserver.wechatpay", api.port, arguments):
        yield


@contextmanager
def alipay_stand_in(settings: Settings) -> Iterator[None]:
    """The development stand-in of Alipay's open API (devserver.alipay) at ALIPAY_GATEWAY,
    with the settings' application, when that address is local (see _wallet_stand_in).
    Elsewhere Alipay is the real one and nothing is started."""
    account = settings.alipay
    gateway = urlsplit(settings.alipay_gateway)
    if account is None or gateway.hostname not in LOCAL_HOSTS or not gateway.port:
        yield
        return
    arguments = [
        "--keys", str(account.app_private_key.parent.resolve()), "--app-id", account.app_id,
    ]  # fmt: skip
    with _wallet_stand_in("Alipay", "devserver.alipay", gateway.port, arguments):
        yield


@contextmanager
def _wallet_stand_in(name: str, module: str, port: int, arguments: list[str]) -> Iterator[None]:
    """A wallet's stand-in on 127.0.0.1:`port`, stopped with the server. It makes the
    development keys first (in the folder named by --keys), and the app starts only once it
    answers, so the keys are there for the app."""
    if _answers("127.0.0.1", port):
        raise SystemExit(
            f"shuyuan: port {port} ({name} stand-in) is taken; stop what holds it "
            f"(fuser -k {port}/tcp) and run again"
        )
    process = subprocess.Popen(  # nosec B603  # our own module, arguments from settings
        [sys.executable, "-m", module, "--port", str(port), *arguments], cwd=_checkout()
    )
    try:
        deadline = time.monotonic() + 20
        while not _answers("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"shuyuan: the {name} stand-in did not start")
            time.sleep(0.1)
        print(f"{name} stand-in on 127.0.0.1:{port} ({module})", flush=True)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def serve(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    reload: bool,
    with_localstripe: bool,
    access_log: bool = True,
    with_mail_catcher: bool = False,
    with_sign_in_stand_ins: bool = False,
    with_wechat_pay: bool = False,
    with_alipay: bool = False,
) -> None:
    ensure_sqlite_dir(settings.database_url)
    if workers > 1 and not reload:
        # Several workers write their metrics to files here that any of them adds up for a
        # scrape; emptied first, so counts restart with the server (metrics.py).
        shared = settings.var_dir / "metrics"
        shutil.rmtree(shared, ignore_errors=True)
        shared.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(shared.resolve())
    # uvicorn stops on SIGTERM, then raises the signal again once its own handler is gone:
    # with the default action the process would end right there, before the blocks below
    # stop localstripe and the mail catcher. Exiting this way runs them, as Ctrl+C does.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        with (
            local_stripe(settings, host, port) if with_localstripe else nullcontext(),
            mail_catcher(settings) if with_mail_catcher else nullcontext(),
            sign_in_stand_ins(settings) if with_sign_in_stand_ins else nullcontext(),
            wechat_pay_stand_in(settings) if with_wechat_pay else nullcontext(),
            alipay_stand_in(settings) if with_alipay else nullcontext(),
        ):
            _run_uvicorn(host, port, workers, reload, access_log, settings.trusted_proxies)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _run_uvicorn(
    host: str,
    port: int,
    workers: int,
    reload: bool,
    access_log: bool,
    trusted_proxies: tuple[str, ...] = ("127.0.0.1/32",),
) -> None:
    import uvicorn

    from web.logs import log_config

    config = log_config()
    if not access_log:  # our one line per request (web/observe.py) is the access log
        config["loggers"]["shuyuan.request"] = {"level": "WARNING"}
    uvicorn.run(
        "app:app",
        access_log=False,
        log_config=config,
        host=host,
        port=port,
        workers=workers if not reload else None,
        reload=reload,
        # Templates are read once per process (web/rendering.py): an edited one restarts too.
        reload_includes=["*.py", "*.html"] if reload else None,
        # X-Forwarded-For and -Proto are believed from the balancers alone
        # (SHUYUAN_TRUSTED_PROXIES): the client's address for the rate limits, https for the
        # Secure cookie and HSTS.
        proxy_headers=True,
        forwarded_allow_ips=",".join(trusted_proxies),
        log_level="info",
        # asyncio's loop with TCP_NODELAY, not uvloop: it accepts a crowd's new connections
        # at once (web/loop.py; measured in bench/drop_rush.py).
        loop="web.loop:CrowdLoop",
    )


def _json_logs() -> None:
    import logging.config

    from web.logs import log_config

    logging.config.dictConfig(log_config())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shuyuan", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations")
    admin = commands.add_parser("create-admin", help="create an admin (or promote an account)")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", required=True)
    commands.add_parser("demo-data", help="load a demo community once (idempotent)")
    commands.add_parser(
        "reconcile-payments", help="ask the provider about open payments and settle them"
    )
    worker_cmd = commands.add_parser(
        "worker", help="run the background jobs on the job engine (PostgreSQL)"
    )
    worker_cmd.add_argument(
        "--also", action="append", default=[], metavar="MODULE", help="also run MODULE.JOBS"
    )
    worker_cmd.add_argument("--concurrency", type=int, default=4)
    worker_cmd.add_argument(
        "--reconnect-for",
        type=float,
        default=300,
        metavar="SECONDS",
        help="how long to wait for a lost database before exiting 1 (default 300)",
    )
    commands.add_parser(
        "erase-again",
        help="after a database restore: erase again who left since the backup (docs/backups.md)",
    )
    backup_cmd = commands.add_parser(
        "backup-storage", help="copy every upload into a dated snapshot (docs/backups.md)"
    )
    backup_cmd.add_argument(
        "--to", required=True, metavar="FOLDER|s3://BUCKET/PREFIX", help="where snapshots are kept"
    )
    backup_cmd.add_argument(
        "--keep-days",
        type=int,
        default=backups.MAX_KEEP_DAYS,
        help=f"delete snapshots older than this (at most {backups.MAX_KEEP_DAYS})",
    )
    restore_cmd = commands.add_parser(
        "restore-storage", help="put a snapshot's uploads back into the storage"
    )
    restore_cmd.add_argument(
        "--from", dest="source", required=True, metavar="FOLDER|s3://BUCKET/PREFIX"
    )
    restore_cmd.add_argument("--snapshot", help="its name, a UTC time (default: the newest)")
    serve_cmd = commands.add_parser("serve", help="serve the app with uvicorn")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--workers", type=int, default=1)
    serve_cmd.add_argument("--reload", action="store_true", help="restart on code changes")
    serve_cmd.add_argument(
        "--with-localstripe",
        action="store_true",
        help="start localstripe (the fake Stripe) at STRIPE_API_BASE and register our webhook",
    )
    serve_cmd.add_argument(
        "--with-mail-catcher",
        action="store_true",
        help="keep every mail sent in var/mail/new/ (a local SMTP server) unless SMTP_URL is set",
    )
    serve_cmd.add_argument(
        "--with-sign-in-stand-ins",
        action="store_true",
        help="start the stand-ins of WeChat's sign-in and of the SMS gateway (var/sms/)",
    )
    serve_cmd.add_argument(
        "--with-wechat-pay",
        action="store_true",
        help="start the stand-in of WeChat Pay's API v3 (keys in var/wechatpay/) when WeChat "
        "Pay is paid directly at a local WECHATPAY_API_BASE",
    )
    serve_cmd.add_argument(
        "--with-alipay",
        action="store_true",
        help="start the stand-in of Alipay's open API (keys in var/alipay/) at a local "
        "ALIPAY_GATEWAY",
    )
    serve_cmd.add_argument(
        "--no-access-log", action="store_true", help="do not log each request (behind a proxy)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"shuyuan: {exc}", file=sys.stderr)
        return 2
    # What any command settles or sends (demo-data, create-admin, the worker's jobs) is wired
    # as the app is: its purposes, its notice kinds, mails linking to the public address.
    with composition.wire(settings).wiring().bound():
        return _run(args, settings)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.command == "migrate":
            asyncio.run(migrate(settings))
            print("database is up to date with the checked-in migrations")
        elif args.command == "create-admin":
            asyncio.run(create_admin(settings, args.email, args.password))
        elif args.command == "demo-data":
            asyncio.run(demo_data(settings))
        elif args.command == "reconcile-payments":
            asyncio.run(reconcile_payments(settings))
        elif args.command == "worker":
            _json_logs()
            return asyncio.run(work(settings, args.also, args.concurrency, args.reconnect_for))
        elif args.command == "erase-again":
            asyncio.run(erase_again(settings))
        elif args.command == "backup-storage":
            asyncio.run(backup_storage(args.to, args.keep_days, settings))
        elif args.command == "restore-storage":
            asyncio.run(restore_storage(args.source, args.snapshot, settings))
        elif args.command == "serve":
            serve(
                settings,
                args.host,
                args.port,
                args.workers,
                args.reload,
                args.with_localstripe,
                access_log=not args.no_access_log,
                with_mail_catcher=args.with_mail_catcher,
                with_sign_in_stand_ins=args.with_sign_in_stand_ins,
                with_wechat_pay=args.with_wechat_pay,
                with_alipay=args.with_alipay,
            )
    except DomainError as exc:
        print(f"shuyuan: {exc.message}", file=sys.stderr)
        return 1
    except backups.BackupError as exc:
        print(f"shuyuan: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
