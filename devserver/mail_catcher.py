"""A local SMTP server that keeps every mail it is sent as a file in a Maildir (FOLDER/new/).

What it imitates: a mail server that accepts any message for any recipient, over plain SMTP
on 127.0.0.1 (aiosmtpd's Mailbox handler). Not imitated: STARTTLS, authentication, refusals,
bounces, spam scoring. Development only: production sends through SMTP_URL.

    python -m devserver.mail_catcher --port 1025 var/mail
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


async def serve(port: int, folder: Path) -> None:
    controller = Controller(Mailbox(str(folder)), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        await asyncio.Event().wait()  # until the process is stopped
    finally:
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="devserver.mail_catcher", description=__doc__)
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    # The Maildir (new/, cur/, tmp/) is made by Mailbox when the folder does not exist yet.
    args.folder.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.folder))


if __name__ == "__main__":
    main()
