"""`accessflow mail-catcher`: a local SMTP server for the demo that keeps every mail in a file.

Nothing is delivered: each message is appended, decoded and readable, to one text file, so a
demo or a developer can see what accessflow would have sent (failed provisioning, incidents).
"""

import email
import email.policy
import threading
from datetime import datetime
from pathlib import Path

from aiosmtpd.controller import Controller

SEPARATOR = "=" * 72


class MailFile:
    """An aiosmtpd handler appending each received message to `path` as plain text."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.append(message, envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    def append(self, message, recipients: list[str]) -> None:
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else message.get_payload()
        entry = (
            f"{SEPARATOR}\n"
            f"Received: {datetime.now().astimezone():%Y-%m-%d %H:%M:%S %z}\n"
            f"From: {message['From']}\n"
            f"To: {', '.join(recipients)}\n"
            f"Subject: {message['Subject']}\n\n"
            f"{str(text).rstrip()}\n\n"
        )
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(entry)


def start_mail_catcher(path: Path, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    """Listen for SMTP on host:port in a background thread; call .stop() on the result."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    controller = Controller(MailFile(path), hostname=host, port=port)
    controller.start()
    return controller
