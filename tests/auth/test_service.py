"""The auth rules called directly, below HTTP: addresses, redirects, passwords, the
service's sessions, the outbox and the rate limiter."""

from __future__ import annotations

import dataclasses
import stat
import time
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from tests.support.api import DEFAULT_PASSWORD, new_email
from utter.auth import passwords
from utter.auth.mailer import (
    AuthMail,
    MailSeal,
    OutboxMailer,
    UnreadableMail,
    format_mail,
    read_outbox,
)
from utter.auth.models import ClientInfo
from utter.auth.ratelimit import Limits, RateLimiter
from utter.auth.service import AuthConfig, AuthService, normalize_email
from utter.db import Database
from utter.errors import Forbidden, Invalid, LimitReached

CLIENT = ClientInfo(ip="192.0.2.10", user_agent="pytest")


def service_of(app: FastAPI) -> AuthService:
    service: AuthService = app.state.auth.service
    return service


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Ada@Example.TEST", "ada@example.test"),
        ("  bob@mail.example.com ", "bob@mail.example.com"),
    ],
)
def test_addresses_are_trimmed_and_lower_cased(given: str, stored: str) -> None:
    assert normalize_email(given) == stored


@pytest.mark.parametrize("bad", ["", "   ", "plain", "a@", "@b.test", "a b@c.test", None])
def test_malformed_addresses_are_refused(bad: str | None) -> None:
    with pytest.raises(Invalid) as refused:
        normalize_email(bad)
    assert refused.value.code == "validation_failed"


def test_redirects_stay_on_the_site_or_the_allow_list(app: FastAPI) -> None:
    service = service_of(app)
    service.config = dataclasses.replace(
        service.config, redirect_allow_list=("https://*.example.com/*",)
    )
    assert service.safe_redirect(None) == "http://testserver/"
    assert service.safe_redirect("http://testserver/x?y=1") == "http://testserver/x?y=1"
    assert service.safe_redirect("https://app.example.com/in") == "https://app.example.com/in"
    assert service.safe_redirect("https://example.org/in") == "http://testserver/"
    assert service.safe_redirect("http://testserver.evil.test/") == "http://testserver/"
    assert service.safe_redirect("//evil.test/") == "http://testserver/"


def test_passwords_are_argon2id_with_owasp_parameters() -> None:
    hashed = passwords.hash_password("hunter22")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(hashed, "hunter22")
    assert not passwords.verify_password(hashed, "hunter23")
    assert not passwords.verify_password(None, "hunter22")
    assert not passwords.verify_password("not a hash", "hunter22")
    assert not passwords.needs_rehash(hashed)
    assert passwords.needs_rehash(PasswordHasher(time_cost=1, memory_cost=8192).hash("x"))


async def test_signup_and_refresh_called_directly(app: FastAPI) -> None:
    service = service_of(app)
    result = await service.signup(
        email=new_email("direct"),
        password=DEFAULT_PASSWORD,
        data=None,
        redirect_to=None,
        client=CLIENT,
    )
    assert result.session is not None
    first = result.session
    user = await service.authenticate(first.access_token)
    assert str(user.id) == str(first.user["id"]) and user.session_id is not None

    second = await service.refresh(first.refresh_token, CLIENT)
    assert (await service.authenticate(second.access_token)).session_id == user.session_id

    # With no reuse interval, presenting the swapped token again ends the session.
    service.config = dataclasses.replace(service.config, refresh_reuse_interval=0)
    with pytest.raises(Invalid) as reused:
        await service.refresh(first.refresh_token, CLIENT)
    assert reused.value.code == "refresh_token_already_used"
    with pytest.raises(Forbidden) as ended:
        await service.authenticate(second.access_token)
    assert ended.value.code == "session_not_found"


async def test_the_outbox_is_private_and_readable(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    mailer = OutboxMailer(outbox, "Utter <noreply@localhost>")
    await mailer.send(
        AuthMail(kind="recovery", to="ada@example.test", link="http://x/verify?t=1", code="012345")
    )
    await mailer.send(
        AuthMail(kind="magiclink", to="bob@example.test", link="http://x/verify?t=2", code="543210")
    )
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    files = sorted(outbox.iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    messages = read_outbox(outbox)
    assert [m["To"] for m in messages] == ["ada@example.test", "bob@example.test"]
    assert [m["To"] for m in read_outbox(outbox, to="BOB@example.test")] == ["bob@example.test"]
    printed = format_mail(messages[0])
    assert "Reset your password" in printed and "http://x/verify?t=1" in printed
    assert "012345" in printed


def test_queued_mail_is_sealed_and_opens_only_with_its_key_while_the_link_lives() -> None:
    mail = AuthMail(kind="magiclink", to="ada@example.test", link="http://x/v?token=t1", code="4")
    seal = MailSeal("the jwt secret of this deployment, 32+", lifetime_seconds=3600)
    before = int(time.time())
    sealed = seal.seal(mail)
    after = int(time.time())
    assert "token=t1" not in sealed and "ada@example.test" not in sealed
    assert seal.open(sealed) == mail
    assert seal.open(sealed, now=before + 3600) == mail
    with pytest.raises(UnreadableMail):
        seal.open(sealed, now=after + 3601)  # the link is dead by then: never sent
    other = MailSeal("another deployment's jwt secret, 32+ too", lifetime_seconds=3600)
    with pytest.raises(UnreadableMail):
        other.open(sealed)


async def test_the_limiter_counts_in_the_database(db: Database) -> None:
    limiter = RateLimiter(db, Limits(window_seconds=30, per_ip=2, per_email=100))
    ip = f"203.0.113.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"
    await limiter.hit("signup", ip=ip, email=None)
    await limiter.hit("signup", ip=ip, email=None)
    with pytest.raises(LimitReached) as refused:
        await limiter.hit("signup", ip=ip, email=None)
    assert refused.value.code == "over_request_rate_limit"
    assert refused.value.retry_after is not None and 1 <= refused.value.retry_after <= 30
    # Another action has its own count.
    await limiter.hit("recover", ip=ip, email=None)


def test_config_reads_the_settings(app: FastAPI) -> None:
    config = AuthConfig.from_settings(app.state.settings)
    assert config.site_url == "http://testserver/"
    assert config.api_url == "http://testserver/auth/v1"
    assert config.password_min_length == 6 and config.refresh_reuse_interval == 10
    assert config.email_confirmation is False and config.otp_expiry == 3600
