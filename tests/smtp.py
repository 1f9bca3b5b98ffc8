"""A real SMTP server for tests: aiosmtpd in its own process, writing what it gets to a Maildir."""

from __future__ import annotations

import email.header
import mailbox
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.live import free_port


class SmtpServer:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
             "-c", "aiosmtpd.handlers.Mailbox", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("aiosmtpd did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def received(self) -> list[mailbox.MaildirMessage]:
        return list(mailbox.Maildir(self.folder, create=True))


def text_of(mail: mailbox.MaildirMessage) -> str:
    """The plain-text part of a received mail."""
    for part in mail.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text/plain part")


def subject_of(mail: mailbox.MaildirMessage) -> str:
    return str(email.header.make_header(email.header.decode_header(mail["Subject"])))


def to_of(mail: mailbox.MaildirMessage) -> str:
    return str(mail["To"])
