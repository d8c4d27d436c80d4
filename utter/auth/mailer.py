"""Auth mail: magic links, confirmations, password resets, email changes.

With an SMTP server configured, mail goes through it (aiosmtplib). Without one, which is the
embedded default, each message is written to the log and, as a standard `.eml` file, to
DATA_DIR/outbox, which `utter mail` prints. The outbox is never served over HTTP: whoever
can read it can sign in as anyone who asked for a link.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

import aiosmtplib

from utter.settings import Settings

log = logging.getLogger(__name__)

_SUBJECTS = {
    "magiclink": "Your sign-in link",
    "signup": "Confirm your email",
    "recovery": "Reset your password",
    "email_change": "Confirm your new email address",
}
_INTROS = {
    "magiclink": "Follow this link to sign in to Utter:",
    "signup": "Follow this link to confirm your email and sign in to Utter:",
    "recovery": "Follow this link to reset your Utter password:",
    "email_change": "Follow this link to make this your Utter email address:",
}


@dataclass(frozen=True)
class AuthMail:
    kind: str
    to: str
    link: str
    code: str

    @property
    def subject(self) -> str:
        return _SUBJECTS[self.kind]

    def message(self, sender: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = self.to
        message["Subject"] = self.subject
        message["Date"] = formatdate(localtime=True)
        message.set_content(
            f"{_INTROS[self.kind]}\n\n{self.link}\n\n"
            f"Or enter this code: {self.code}\n\n"
            "If you did not ask for this, you can ignore this email.\n"
        )
        return message


class Mailer(Protocol):
    async def send(self, mail: AuthMail) -> None: ...


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpMailer needs UTTER_SMTP_HOST")
        self._host = settings.smtp_host
        self._port = settings.smtp_port
        self._user = settings.smtp_user
        self._password = (
            settings.smtp_password.get_secret_value() if settings.smtp_password else None
        )
        self._sender = settings.smtp_sender
        self._tls = settings.smtp_tls

    async def send(self, mail: AuthMail) -> None:
        await aiosmtplib.send(
            mail.message(self._sender),
            hostname=self._host,
            port=self._port,
            username=self._user,
            password=self._password,
            use_tls=self._tls == "tls",
            start_tls=self._tls == "starttls",
            timeout=30,
        )


class OutboxMailer:
    def __init__(self, directory: Path, sender: str) -> None:
        self.directory = directory
        self._sender = sender

    async def send(self, mail: AuthMail) -> None:
        log.info("mail to %s (%s): %s  code %s", mail.to, mail.subject, mail.link, mail.code)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.eml"
        tmp = self.directory / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(mail.message(self._sender).as_bytes())
        # Readers never see half a message.
        tmp.rename(self.directory / name)


def outbox_dir(settings: Settings) -> Path:
    return settings.data_dir / "outbox"


def mailer_for(settings: Settings) -> Mailer:
    if settings.smtp_host:
        return SmtpMailer(settings)
    return OutboxMailer(outbox_dir(settings), settings.smtp_sender)


def read_outbox(directory: Path, *, to: str | None = None) -> list[EmailMessage]:
    """The messages in the outbox, oldest first; only those to `to` when given."""
    if not directory.is_dir():
        return []
    messages = []
    for path in sorted(directory.glob("*.eml")):
        with path.open("rb") as handle:
            message = BytesParser(policy=policy.default).parse(handle)
        assert isinstance(message, EmailMessage)
        if to is None or str(message["To"]).lower() == to.lower():
            messages.append(message)
    return messages


def format_mail(message: EmailMessage) -> str:
    """One outbox message as `utter mail` prints it."""
    body = message.get_body(("plain",))
    text = body.get_content().strip() if body is not None else ""
    header = f"--- {message['Date']}  to {message['To']}  {message['Subject']}"
    return f"{header}\n{text}\n"
