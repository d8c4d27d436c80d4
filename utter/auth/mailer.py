"""Auth mail: magic links, confirmations, password resets, email changes.

The auth service posts each message inside the transaction that stores its token (a
`Postbox`). With an SMTP server configured, posting queues a job (`utter.jobs.mail`) and a
worker sends it through the server (aiosmtplib): a slow or dead mail server then never holds
a request, a pooled connection or a transaction, and the mail leaves only if the token was
committed. Without one, which is the embedded default, each message is written at once to
the log and, as a standard `.eml` file, to DATA_DIR/outbox, which `utter mail` prints: a
local file cannot hang, and it is written where `utter mail` looks, whichever machines
workers run on. The outbox is never served over HTTP: whoever can read it can sign in as
anyone who asked for a link.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import time
from dataclasses import asdict, dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

import aiosmtplib
from cryptography.fernet import Fernet, InvalidToken

from utter.auth.tokens import jwt_secret
from utter.db import Connection
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


class Postbox(Protocol):
    async def post(self, conn: Connection, mail: AuthMail) -> None:
        """Hand `mail` on inside the transaction of `conn`, which holds its token."""
        ...


class UnreadableMail(Exception):
    """A sealed mail that this key cannot open, or whose link has expired."""


class MailSeal:
    """Seals a mail for the job queue, whose table the database's owners can read: a link
    in it in the clear would let them sign in as its recipient (the auth tables keep only
    hashes for the same reason). Sealed with a key derived from the JWT key, it opens only
    where that key is, and only while the link it carries is alive."""

    def __init__(self, secret: str, *, lifetime_seconds: int) -> None:
        key = hashlib.sha256(b"utter auth mail\0" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self._lifetime = lifetime_seconds

    def seal(self, mail: AuthMail) -> str:
        return self._fernet.encrypt(json.dumps(asdict(mail)).encode()).decode()

    def open(self, sealed: str, *, now: int | None = None) -> AuthMail:
        """The mail in `sealed`; `now` (epoch seconds) stands in for the clock."""
        try:
            if now is None:
                plain = self._fernet.decrypt(sealed, ttl=self._lifetime)
            else:
                plain = self._fernet.decrypt_at_time(sealed, self._lifetime, now)
            fields = json.loads(plain)
        except InvalidToken as exc:
            raise UnreadableMail("sealed with another key, or its link has expired") from exc
        return AuthMail(**fields)


def mail_seal(settings: Settings) -> MailSeal:
    return MailSeal(jwt_secret(settings), lifetime_seconds=settings.auth_otp_expiry)


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

    async def post(self, conn: Connection, mail: AuthMail) -> None:
        # Written before the token commits: if the file cannot be written, no token is kept.
        await self.send(mail)


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
