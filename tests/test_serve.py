"""The real server: `shuyuan serve` with several uvicorn workers over the test database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from settings import Settings
from tests.factories import PASSWORD
from tests.live import running_server


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
