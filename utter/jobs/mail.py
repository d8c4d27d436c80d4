"""Auth mail through the job queue, when an SMTP server is configured.

The API queues a job in the same transaction as the one-time token the mail carries
(`QueuedMail.post`), so the mail leaves only if the token was stored, and no request,
pooled connection or transaction waits on the mail server. Every worker sends these jobs
on a queue of their own (`run_mail_worker`), so a sign-in link never waits behind speech
work. The job holds the mail sealed (`MailSeal`): the link in it signs its recipient in.

A server that does not answer, or answers "try later", is tried again with growing pauses
for about 23 minutes, never after the link has expired; a refusal (a 5xx reply, an address
the server will not take) is logged and not tried again.
"""

from __future__ import annotations

import functools
import logging

import aiosmtplib
import procrastinate

from utter.auth.mailer import AuthMail, MailSeal, UnreadableMail, mail_seal, mailer_for
from utter.db import Connection
from utter.db.pool import QUEUE_SEARCH_PATH
from utter.settings import Settings

log = logging.getLogger(__name__)

MAIL_QUEUE = "auth_mail"
SEND_AUTH_MAIL = "utter.send_auth_mail"
# Mail is I/O: a few messages at once keep one slow recipient's server from holding others'.
MAIL_CONCURRENCY = 4
# Waits of 4, 16, 64, 256 and 1024 s between the six tries (about 23 minutes in all).
MAIL_RETRY = procrastinate.RetryStrategy(
    max_attempts=5,
    exponential_wait=4,
    retry_exceptions={aiosmtplib.SMTPException, OSError},
)
# How long a stopping worker lets mail being sent finish; the SMTP client's own timeout
# bounds each try anyway.
STOP_GRACE_SECONDS = 5.0


class QueuedMail:
    """The API's postbox when an SMTP server is configured."""

    def __init__(self, queue: procrastinate.App, seal: MailSeal) -> None:
        self._queue = queue
        self._seal = seal

    async def post(self, conn: Connection, mail: AuthMail) -> None:
        # procrastinate's SQL names its functions without a schema; set_config(..., true)
        # adds its schema to the path for the rest of this transaction only.
        await conn.execute(
            "select set_config('search_path', current_setting('search_path') || ', ' || %s, true)",
            (QUEUE_SEARCH_PATH,),
        )
        await self._queue.configure_task(
            name=SEND_AUTH_MAIL, queue=MAIL_QUEUE, connection=conn
        ).defer_async(sealed=self._seal.seal(mail))


def _refused(exc: aiosmtplib.SMTPException) -> bool:
    """Whether the server said no for good: trying the same message again cannot help."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return True
    return isinstance(exc, aiosmtplib.SMTPResponseException) and 500 <= exc.code < 600


def register_mail(queue: procrastinate.App, settings: Settings) -> None:
    """Bind the mail job to this process's mailer (SMTP, or the outbox of a worker without
    UTTER_SMTP_HOST) and its key for opening sealed mail."""
    mailer = mailer_for(settings)
    # Made on the first mail: a worker that never sends any (external auth, no SMTP)
    # never needs the JWT key, nor generates one in its data dir.
    seal = functools.cache(lambda: mail_seal(settings))

    async def send_auth_mail(sealed: str) -> None:
        try:
            mail = seal().open(sealed)
        except UnreadableMail as exc:
            # Another key (a worker whose UTTER_JWT_SECRET differs from the API's), or too late.
            log.error("dropped an auth mail: %s", exc)
            return
        try:
            await mailer.send(mail)
        except aiosmtplib.SMTPException as exc:
            if not _refused(exc):
                log.warning(
                    "could not send %s mail to %s (will retry): %s", mail.kind, mail.to, exc
                )
                raise
            log.error("the mail server refused %s mail to %s: %s", mail.kind, mail.to, exc)
            return
        log.info("sent %s mail to %s", mail.kind, mail.to)

    queue.task(name=SEND_AUTH_MAIL, queue=MAIL_QUEUE, retry=MAIL_RETRY)(send_auth_mail)


async def run_mail_worker(queue: procrastinate.App, name: str) -> None:
    """Send queued auth mail until cancelled; `queue` must be open, with `register_mail`
    done on it."""
    await queue.run_worker_async(
        queues=[MAIL_QUEUE],
        concurrency=MAIL_CONCURRENCY,
        name=f"{name}-mail",
        install_signal_handlers=False,
        # A sent mail's job (its sealed link) is of no further use.
        delete_jobs="successful",
        shutdown_graceful_timeout=STOP_GRACE_SECONDS,
        fetch_job_polling_interval=2.0,
    )
