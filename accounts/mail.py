"""Sending one mail over SMTP (aiosmtplib): the one place that speaks to a mail server."""

from __future__ import annotations

import email.policy
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

import aiosmtplib

TIMEOUT_SECONDS = 20.0
# Lines up to RFC 5322's 998 characters: under the default 78, a long unbreakable header (a
# List-Unsubscribe link) is folded into encoded words that mail clients do not read as a URL.
# aiosmtplib would flatten a message with the 78-character SMTP policy: it is sent flattened.
_POLICY = email.policy.SMTP.clone(max_line_length=998)


class MailUnavailable(Exception):
    """The mail server could not take the message now (down, refused, timed out)."""


@dataclass(frozen=True)
class Mailer:
    """An SMTP server to send through, from `settings.smtp_url` and `settings.mail_from`."""

    url: str
    sender: str

    async def send(
        self,
        *,
        to: str,
        subject: str,
        text: str,
        html: str | None,
        message_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send one message (plain text, and HTML when given). `message_id` is stable for a
        message, so a receiving side can tell a copy. Raises MailUnavailable."""
        message = EmailMessage(policy=_POLICY)
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = message_id
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        parts = urlsplit(self.url)
        try:
            await aiosmtplib.send(
                message.as_bytes(),
                sender=parseaddr(self.sender)[1],
                recipients=[to],
                hostname=parts.hostname,
                port=parts.port or {"smtps": 465, "smtp+starttls": 587}.get(parts.scheme, 25),
                username=unquote(parts.username) if parts.username else None,
                password=unquote(parts.password) if parts.password else None,
                use_tls=parts.scheme == "smtps",
                start_tls=parts.scheme == "smtp+starttls",
                timeout=TIMEOUT_SECONDS,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailUnavailable(str(exc)[:300]) from exc


def message_id(outbox_id: int, sender: str) -> str:
    """The same Message-ID every time one outbox message is sent."""
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "shuyuan.local"
    return f"<outbox-{outbox_id}@{domain}>"
