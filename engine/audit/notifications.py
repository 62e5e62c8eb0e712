"""Email to people who must act: an application's notification address, the admins.

Mail goes out after the transaction that caused it has committed, so a message never announces
something that was rolled back; a mail server that is down is logged, never fatal.
"""

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mailer:
    """SMTP settings (from the app config: SMTP_HOST, SMTP_PORT, MAIL_FROM), and BASE_URL,
    where links in a mail point."""

    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "accessflow@localhost"
    timeout: float = 10.0
    base_url: str = "http://localhost:8000"

    @classmethod
    def from_config(cls, config) -> "Mailer":
        return cls(
            host=config.get("SMTP_HOST", cls.host),
            port=int(config.get("SMTP_PORT", cls.port)),
            sender=config.get("MAIL_FROM", cls.sender),
            base_url=str(config.get("BASE_URL") or cls.base_url).rstrip("/"),
        )

    def connect(self) -> smtplib.SMTP:
        """An open SMTP connection (the caller closes it); raises OSError or SMTPException."""
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def message(self, recipient: str, subject: str, text: str, html: str | None = None):
        """A message to one person: plain text, and an HTML alternative when given."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = recipient
        message["Subject"] = subject
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        return message

    def send(self, recipients: list[str], subject: str, body: str) -> bool:
        """Send one plain-text message; False (and a log line) when it could not be sent."""
        recipients = sorted({r for r in recipients if r})
        if not recipients:
            return False
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as err:
            log.warning("could not send %r to %s: %s", subject, recipients, err)
            return False
        return True


def provisioning_failed_message(app_name: str, username: str, item_id: str, error: str):
    """(subject, body) telling an application's owners that auto-provisioning gave up."""
    subject = f"[accessflow] Failed auto-provision: {username} in {app_name}"
    body = (
        f"accessflow could not provision an account for {username} in {app_name}.\n\n"
        f"Error: {error}\n\n"
        f"Request item: {item_id}\n"
        "A 'Failed auto-provision' task waits for the application's fulfillers: retry it once\n"
        "the target is fixed, record an account created by hand, or reject the request.\n"
    )
    return subject, body


def quarantine_message(app_name: str, key: str, failed: int, total: int):
    """(subject, body) telling admins that an application's provisioning is paused."""
    subject = f"[accessflow] {app_name} is quarantined: provisioning paused"
    body = (
        f"{failed} of the last {total} provisioning operations against {app_name} failed.\n"
        "Its provisioning jobs are paused until an administrator resumes it:\n\n"
        f"    accessflow app resume {key}\n"
    )
    return subject, body


def workflow_failed_message(app_name: str, username: str, item_id: str, error: str):
    """(subject, body) telling an application's owners and the admins that a workflow failed."""
    subject = f"[accessflow] Workflow failed: {username} in {app_name}"
    body = (
        f"The workflow of the request for {username} in {app_name} failed and was stopped.\n\n"
        f"Error: {error}\n\n"
        f"Request item: {item_id}\n"
        "An administrator retries it from the incidents page once the cause is fixed (the\n"
        "workflow resumes where it was last saved), or resolves the incident (the item stays\n"
        "failed).\n"
    )
    return subject, body
