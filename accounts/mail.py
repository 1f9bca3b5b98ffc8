"""Sending one mail over SMTP (aiosmtplib): the one place that speaks to a mail server."""

from __future__ import annotations

import email.policy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
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

    def message(
        self,
        *,
        to: str,
        subject: str,
        text: str,
        html: str | None,
        message_id: str,
        headers: Mapping[str, str] | None = None,
        date: datetime | None = None,
    ) -> EmailMessage:
        """The message as it is sent: From, To, Subject, Date (now, when it leaves), the
        Message-ID, extra headers (List-Unsubscribe...), the text part and the HTML part."""
        message = EmailMessage(policy=_POLICY)
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(date or datetime.now(UTC))
        message["Message-ID"] = message_id
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        return message

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
        message = self.message(
            to=to, subject=subject, text=text, html=html, message_id=message_id, headers=headers
        )
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


def message_id(token: str, sender: str) -> str:
    """The Message-ID of the outbox message whose random token is `token`, on the sending
    domain (the same every time it is sent)."""
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "shuyuan.local"
    return f"<{token}@{domain}>"
