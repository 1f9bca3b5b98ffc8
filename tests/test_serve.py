"""The real server: `shuyuan serve` with several uvicorn workers over the test database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from settings import Settings
from tests.factories import PASSWORD
from tests.live import ROOT, free_port, running_server, server_environment, wait_until_answering


async def test_several_workers_serve_pages_and_the_api(settings: Settings) -> None:
    with running_server(settings, workers=2) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            health = await http.get("/healthz")
            assert health.json() == {"status": "ok"}
            home = await http.get("/")
            assert home.status_code == 200
            assert "书院" in home.text
            assert (await http.get("/static/vendor/htmx-4.0.1.min.js")).status_code == 200

            created = await http.post(
                "/api/v1/accounts",
                json={"email": "serve@example.cn", "password": PASSWORD, "display_name": "小周"},
            )
            assert created.status_code == 201
            issued = await http.post(
                "/api/v1/tokens", json={"email": "serve@example.cn", "password": PASSWORD}
            )
            assert issued.status_code == 201
            headers = {"Authorization": f"Bearer {issued.json()['token']}"}

            # Many requests at once, spread over both workers: every one sees the database.
            answers = await asyncio.gather(
                *(http.get("/api/v1/me", headers=headers) for _ in range(40))
            )
            assert {answer.status_code for answer in answers} == {200}
            assert {answer.json()["email"] for answer in answers} == {"serve@example.cn"}
            missing = await http.get("/api/v1/me")
            assert missing.status_code == 401
            assert missing.json()["error"]["code"] == "unauthorized"


async def test_the_mail_catcher_keeps_what_the_app_sends(
    settings: Settings, tmp_path: Path
) -> None:
    """`make run`'s mail catcher: a real SMTP server that keeps each mail in var/mail/new/."""
    from dataclasses import replace

    from accounts.mail import Mailer
    from cli import MAIL_CATCHER_PORT, mail_catcher

    local = replace(settings, smtp_url=None, var_dir=tmp_path)
    with mail_catcher(local):
        await Mailer(f"smtp://127.0.0.1:{MAIL_CATCHER_PORT}", "书院 <noreply@shuyuan.test>").send(
            to="reader@example.cn", subject="你好", text="正文", html=None, message_id="<t@x>"
        )
        kept = list((tmp_path / "mail" / "new").iterdir())
    assert len(kept) == 1
    assert "reader@example.cn" in kept[0].read_text()


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found |= {int(child) for child in text}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_sigterm_to_serve_stops_localstripe_and_the_mail_catcher(settings: Settings) -> None:
    """A process manager (or `kill`) stops `shuyuan serve` with SIGTERM: the provider and the
    mail catcher it started stop with it, so the next `make run` finds their ports free."""
    port, stripe_port = free_port(), free_port()
    log = (settings.var_dir / f"serve-children-{port}.log").open("w+")
    env = {
        **server_environment(settings),
        "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}",
        "SHUYUAN_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port),
         "--with-localstripe", "--with-mail-catcher"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/healthz", process, log)
        children = _children(process.pid)
        commands = {
            child: Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            for child in children
        }
        started = [
            c
            for c, line in commands.items()
            if b"devserver.localstripe" in line or b"devserver.mail_catcher" in line
        ]
        assert len(started) == 2, commands
        os.kill(process.pid, signal.SIGTERM)  # the server alone, as systemd's KillMode=mixed
        process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(_alive(child) for child in started) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [child for child in started if _alive(child)], "children left running"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_serve_with_the_wallets_starts_their_stand_ins_with_keys_made_first(
    settings: Settings,
) -> None:
    """`make run` starts the stand-ins of WeChat Pay and Alipay (`--with-wechat-pay`,
    `--with-alipay`); each makes the development keys before it answers, so the app finds
    them when it starts and pays through them when SHUYUAN_PROVIDERS says so; SIGTERM stops
    them with the server."""
    port, wechatpay_port, alipay_port = free_port(), free_port(), free_port()
    log = (settings.var_dir / f"serve-wallets-{port}.log").open("w+")
    env = {
        **server_environment(settings),
        # The development merchant and application, keys in var/wechatpay/ and var/alipay/.
        "SHUYUAN_PROVIDERS": "wechat_pay:wechatpay,alipay:alipay",
        "WECHATPAY_API_BASE": f"http://127.0.0.1:{wechatpay_port}",
        "ALIPAY_GATEWAY": f"http://127.0.0.1:{alipay_port}/gateway.do",
        "SHUYUAN_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    command = ["serve", "--port", str(port), "--with-wechat-pay", "--with-alipay"]
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", *command],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/healthz", process, log)
        assert (settings.var_dir / "wechatpay" / "apiclient_key.pem").exists()
        assert (settings.var_dir / "alipay" / "app_private_key.pem").exists()
        children = [
            child
            for child in _children(process.pid)
            if b"devserver." in Path(f"/proc/{child}/cmdline").read_bytes()
        ]
        assert len(children) == 2
        for health in (
            f"http://127.0.0.1:{wechatpay_port}/_control/health",
            f"http://127.0.0.1:{alipay_port}/_control/health",
        ):
            assert httpx.get(health, timeout=5).status_code == 200
        # Alipay is paid directly: its notify URL is there (a form it did not sign: refused).
        notify = httpx.post(f"http://127.0.0.1:{port}/payments/notify/alipay", content=b"a=b")
        assert (notify.status_code, notify.text) == (400, "fail")
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(_alive(child) for child in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(child) for child in children), "a stand-in was left running"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
