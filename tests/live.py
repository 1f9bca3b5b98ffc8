"""A real `shuyuan serve` in a child process, for tests that need uvicorn and its workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_environment(settings: Settings) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SHUYUAN_", "STRIPE_", "WECHAT_", "SMS_", "WECHATPAY_"))
        and key not in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL")
    }
    env.update(
        DATABASE_URL=settings.database_url,
        SECRET_KEY=settings.secret_key,
        SHUYUAN_VAR_DIR=str(settings.var_dir),
        STRIPE_API_BASE=settings.stripe_api_base,
    )
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    env.update(
        WECHAT_OAUTH_BASE=settings.wechat_oauth_base, WECHAT_API_BASE=settings.wechat_api_base
    )
    for prefix, app in (
        ("WECHAT_MP", settings.wechat_official),
        ("WECHAT_WEB", settings.wechat_website),
    ):
        env[f"{prefix}_APPID"] = app.app_id if app else "none"
        if app:
            env[f"{prefix}_SECRET"] = app.secret
    if settings.sms is None:
        env["SHUYUAN_SMS_PROVIDER"] = "none"
    else:
        env.update(
            SHUYUAN_SMS_PROVIDER=settings.sms.provider,
            SMS_ENDPOINT=settings.sms.endpoint,
            SMS_ACCESS_KEY_ID=settings.sms.access_key_id,
            SMS_ACCESS_KEY_SECRET=settings.sms.access_key_secret,
            SMS_SIGN_NAME=settings.sms.sign_name,
            SMS_TEMPLATE=settings.sms.template,
        )
        if settings.sms.app_id:
            env["SMS_APP_ID"] = settings.sms.app_id
    env["SHUYUAN_SMS_DAILY_BUDGET"] = str(settings.sms_daily_budget)
    env["SHUYUAN_PROVIDERS"] = ",".join(f"{m}:{p}" for m, p in settings.providers)
    if settings.alipay is not None:
        env.update(
            ALIPAY_GATEWAY=settings.alipay_gateway,
            ALIPAY_APP_ID=settings.alipay.app_id,
            ALIPAY_APP_PRIVATE_KEY=str(settings.alipay.app_private_key),
            ALIPAY_PUBLIC_KEY=str(settings.alipay.alipay_public_key),
        )
    account = settings.wechat_pay
    if account is not None:
        env.update(
            WECHATPAY_API_BASE=settings.wechatpay_api_base,
            WECHATPAY_MCHID=account.mchid,
            WECHATPAY_APPID=account.appid,
            WECHATPAY_MERCHANT_SERIAL=account.merchant_serial,
            WECHATPAY_PRIVATE_KEY=str(account.private_key),
            WECHATPAY_APIV3_KEY=account.apiv3_key,
        )
        if account.public_key_id and account.public_key:
            env.update(
                WECHATPAY_PUBLIC_KEY_ID=account.public_key_id,
                WECHATPAY_PUBLIC_KEY=str(account.public_key),
            )
    return env


def wait_until_answering(
    url: str, process: subprocess.Popen[bytes], log: IO[str], *, seconds: float = 30
) -> None:
    """Poll `url` until it answers 200; fail with the process's log if it dies or stays mute."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"{process.args!r} exited early:\n{log.read()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            log.seek(0)
            raise RuntimeError(f"{url} did not answer in {seconds} s:\n{log.read()}")
        time.sleep(0.1)


@contextmanager
def running_server(
    settings: Settings, *, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Start `shuyuan serve` on a free port; yield its base URL once /healthz answers 200."""
    with running_server_process(settings, workers=workers, env=env) as (base_url, _):
        yield base_url


def stop_group(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """SIGTERM to a process started with start_new_session=True and everything it started; a
    SIGKILL to the group if it has not ended within `timeout` seconds."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def running_server_process(
    settings: Settings, *, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """running_server, yielding the process too (with one worker, it is the worker)."""
    port = free_port()
    log = (settings.var_dir / f"serve-{port}.log").open("w+")
    base_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env={**server_environment(settings), "SHUYUAN_PUBLIC_URL": base_url, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_answering(f"{base_url}/healthz", process, log)
        yield base_url, process
    finally:
        stop_group(process, timeout=15)
        log.close()


@contextmanager
def stand_in(module: str, *args: str, probe: str, log_folder: Path) -> Iterator[str]:
    """A development stand-in (`python -m devserver.<module>`) on a free port of 127.0.0.1 for
    as long as the block runs, once `probe` answers 200; yields its base URL. Its output is
    kept in log_folder/<module>.log and shown if it dies early."""
    port = free_port()
    with (log_folder / f"{module}.log").open("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", f"devserver.{module}", "--port", str(port), *args],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_answering(f"{url}{probe}", process, log)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)
