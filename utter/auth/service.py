"""The built-in auth's rules: accounts, sessions, rotating refresh tokens, emailed links and
codes. The HTTP layer (`routes.py`) only parses requests and shapes answers; tests call
these methods directly.

Every refusal is a domain error (`utter.errors`) whose `code` is GoTrue's error code; the
/auth/v1 routes give it GoTrue's status and body (`auth/errors.py`).
"""

from __future__ import annotations

import fnmatch
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, LiteralString
from urllib.parse import urlencode, urlsplit
from uuid import UUID

from email_validator import EmailNotValidError, validate_email
from psycopg import errors as pg_errors

from utter.auth import passwords
from utter.auth.errors import invalid_credentials, validation_failed, weak_password
from utter.auth.mailer import AuthMail, Postbox
from utter.auth.models import AuthUser, ClientInfo, UserOut, unknown_user_out
from utter.auth.ratelimit import RateLimiter
from utter.auth.tokens import (
    InvalidToken,
    JwtSigner,
    hash_token,
    new_opaque_token,
    new_otp,
    otp_hash,
)
from utter.db import Connection, Database
from utter.db.queries import auth as queries
from utter.errors import Failed, Forbidden, Invalid, Unprocessable
from utter.services.keys import is_key_like
from utter.settings import Settings

log = logging.getLogger(__name__)

MAX_PASSWORD_LENGTH = 1024
# Rotated refresh tokens are kept this long to recognise their reuse, then forgotten.
KEEP_ROTATED_TOKENS_SECONDS = 24 * 3600

# The `type` a link or code is verified as, and the kinds of issued token it may redeem.
VERIFY_KINDS: dict[str, list[str]] = {
    "magiclink": ["magiclink", "signup"],
    "signup": ["signup", "magiclink"],
    "email": ["magiclink", "signup"],
    "recovery": ["recovery"],
    "email_change": ["email_change"],
}
# How a session that a redeemed token starts is recorded (the token's `amr` method).
SESSION_METHOD = {
    "magiclink": "otp",
    "signup": "email/signup",
    "recovery": "recovery",
    "email_change": "email_change",
}
LOGOUT_SCOPES = ("global", "local", "others")


@dataclass(frozen=True)
class AuthConfig:
    site_url: str
    api_url: str
    email_confirmation: bool
    password_min_length: int
    otp_expiry: int
    refresh_reuse_interval: int
    redirect_allow_list: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthConfig:
        return cls(
            site_url=settings.base_url + "/",
            api_url=settings.base_url + "/auth/v1",
            email_confirmation=settings.auth_email_confirmation,
            password_min_length=settings.auth_password_min_length,
            otp_expiry=settings.auth_otp_expiry,
            refresh_reuse_interval=settings.auth_refresh_reuse_interval,
            redirect_allow_list=tuple(
                p.strip() for p in settings.auth_redirect_allow_list.split(",") if p.strip()
            ),
        )


@dataclass(frozen=True)
class IssuedSession:
    access_token: str
    refresh_token: str
    expires_in: int
    expires_at: int
    user: dict[str, Any]


@dataclass(frozen=True)
class SignupResult:
    """A session when the account may sign in at once; otherwise the user to show."""

    session: IssuedSession | None = None
    user: dict[str, Any] | UserOut | None = None


def normalize_email(email: str | None) -> str:
    """The address as stored: trimmed and lower-cased (as GoTrue does), checked for form."""
    if not email or not email.strip():
        raise validation_failed("An email address is required")
    candidate = email.strip().lower()
    if len(candidate) > 255:
        raise validation_failed("Unable to validate email address: invalid format")
    try:
        # test_environment lets the reserved `.test` domain through (tests, demos);
        # nothing here checks DNS.
        validate_email(candidate, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise validation_failed("Unable to validate email address: invalid format") from exc
    return candidate


class AuthService:
    def __init__(
        self,
        db: Database,
        config: AuthConfig,
        signer: JwtSigner,
        postbox: Postbox,
        limiter: RateLimiter,
        *,
        otp_key: bytes,
    ) -> None:
        self.db = db
        self.config = config
        self.signer = signer
        self.postbox = postbox
        self.limiter = limiter
        self._otp_key = otp_key
        self._verifier = signer.verifier()
        # Tokens whose signature and claims checked out, most recently used last. A client
        # sends the same token with every poll, and checking it again (base64, HMAC, claim
        # checks) was a fifth of a poll's CPU; only its expiry can change, and is rechecked.
        self._verified: OrderedDict[str, AuthUser] = OrderedDict()

    # Checks ----------------------------------------------------------------------------

    def check_password(self, password: str | None) -> str:
        if not password:
            raise validation_failed("Signup requires a valid password")
        if len(password) < self.config.password_min_length:
            raise weak_password(self.config.password_min_length)
        if len(password) > MAX_PASSWORD_LENGTH:
            raise validation_failed(
                f"Password cannot be longer than {MAX_PASSWORD_LENGTH} characters"
            )
        return password

    def safe_redirect(self, redirect_to: str | None) -> str:
        """`redirect_to` when it is this site or on the allow-list; else the site itself
        (GoTrue's rule), so links never send a session to a stranger's page."""
        if not redirect_to:
            return self.config.site_url
        target = urlsplit(redirect_to)
        if target.scheme not in ("http", "https") or not target.netloc:
            return self.config.site_url
        site = urlsplit(self.config.site_url)
        if (target.scheme, target.netloc) == (site.scheme, site.netloc):
            return redirect_to
        for pattern in self.config.redirect_allow_list:
            if fnmatch.fnmatchcase(redirect_to, pattern):
                return redirect_to
        return self.config.site_url

    # Sign-up and sign-in ----------------------------------------------------------------

    async def signup(
        self,
        *,
        email: str | None,
        password: str | None,
        data: dict[str, Any] | None,
        redirect_to: str | None,
        client: ClientInfo,
    ) -> SignupResult:
        address = normalize_email(email)
        self.check_password(password)
        assert password is not None
        await self.limiter.hit("signup", ip=client.ip, email=address)
        password_hash = await passwords.hash_password_async(password)
        confirm = self.config.email_confirmation
        try:
            async with self.db.as_service() as conn:
                existing = await queries.find_user_by_email(conn, address)
                if existing is not None:
                    if not confirm:
                        raise _user_exists()
                    if existing["email_confirmed_at"] is None:
                        await self._send_link(
                            conn, existing, "signup", address, self.safe_redirect(redirect_to)
                        )
                    return SignupResult(user=unknown_user_out(address, datetime.now(UTC)))
                user = await queries.insert_user(
                    conn,
                    email=address,
                    password_hash=password_hash,
                    confirmed=not confirm,
                    user_metadata=data or {},
                )
                if confirm:
                    await self._send_link(
                        conn, user, "signup", address, self.safe_redirect(redirect_to)
                    )
                    return SignupResult(user=await self._reload(conn, user["id"]))
                session = await self._start_session(conn, user["id"], "password", client)
                return SignupResult(session=session)
        except pg_errors.UniqueViolation as exc:
            # Another sign-up for the same address committed first.
            raise _user_exists() from exc

    async def sign_in_with_password(
        self, *, email: str | None, password: str | None, client: ClientInfo
    ) -> IssuedSession:
        if not email or not password:
            raise validation_failed("missing email or phone")
        try:
            address = normalize_email(email)
        except Invalid as exc:
            raise invalid_credentials() from exc
        await self.limiter.hit_password(ip=client.ip, email=address)
        async with self.db.as_service() as conn:
            user = await queries.find_user_by_email(conn, address)
        stored = user["encrypted_password"] if user else None
        # Verified even when there is no such user, so both answers take as long.
        if not await passwords.verify_password_async(stored, password) or user is None:
            raise invalid_credentials()
        # Only failures count against the client: the right password is not a guess.
        await self.limiter.forgive_password(ip=client.ip, email=address)
        if user["email_confirmed_at"] is None:
            raise Invalid("Email not confirmed", code="email_not_confirmed")
        new_hash = None
        if stored and passwords.needs_rehash(stored):
            new_hash = await passwords.hash_password_async(password)
        async with self.db.as_service() as conn:
            if new_hash:
                await queries.set_password(conn, user["id"], new_hash)
            return await self._start_session(conn, user["id"], "password", client)

    async def refresh(self, refresh_token: str | None, client: ClientInfo) -> IssuedSession:
        """Swap a refresh token for a new session token and a new refresh token.

        A token already swapped is accepted again for `refresh_reuse_interval` seconds
        (two tabs refreshing at once both succeed). Used later, it has leaked: the whole
        session is ended, the thief's and the owner's tokens alike."""
        if not refresh_token:
            raise validation_failed("refresh_token required")
        reused = False
        issued: IssuedSession | None = None
        async with self.db.as_service() as conn:
            row = await queries.lock_refresh_token(conn, hash_token(refresh_token))
            if row is None:
                raise Invalid(
                    "Invalid Refresh Token: Refresh Token Not Found",
                    code="refresh_token_not_found",
                )
            if row["revoked_at"] is not None:
                if row["revoked_seconds_ago"] > self.config.refresh_reuse_interval:
                    reused = True
                    await queries.delete_session(conn, row["session_id"])
            else:
                await queries.revoke_refresh_token(conn, row["id"])
            if not reused:
                issued = await self._continue_session(conn, row, client)
        if reused or issued is None:
            log.warning(
                "refresh token reused after rotation; ended session %s of user %s",
                row["session_id"],
                row["user_id"],
            )
            raise Invalid("Invalid Refresh Token: Already Used", code="refresh_token_already_used")
        return issued

    # Emailed links and codes -------------------------------------------------------------

    async def send_magic_link(
        self,
        *,
        email: str | None,
        create_user: bool,
        data: dict[str, Any] | None,
        redirect_to: str | None,
        client: ClientInfo,
    ) -> None:
        address = normalize_email(email)
        await self.limiter.hit("otp", ip=client.ip, email=address)
        redirect = self.safe_redirect(redirect_to)
        try:
            async with self.db.as_service() as conn:
                user = await queries.find_user_by_email(conn, address)
                if user is None:
                    if not create_user:
                        raise Unprocessable("Signups not allowed for otp", code="otp_disabled")
                    user = await queries.insert_user(
                        conn,
                        email=address,
                        password_hash=None,
                        confirmed=False,
                        user_metadata=data or {},
                    )
                await self._send_link(conn, user, "magiclink", address, redirect)
        except pg_errors.UniqueViolation:
            # The account was created meanwhile by another request: send to it.
            async with self.db.as_service() as conn:
                user = await queries.find_user_by_email(conn, address)
                assert user is not None
                await self._send_link(conn, user, "magiclink", address, redirect)

    async def send_recovery(
        self, *, email: str | None, redirect_to: str | None, client: ClientInfo
    ) -> None:
        """Mail a password-reset link. Says nothing about whether the account exists."""
        address = normalize_email(email)
        await self.limiter.hit("recover", ip=client.ip, email=address)
        async with self.db.as_service() as conn:
            user = await queries.find_user_by_email(conn, address)
            if user is not None:
                await self._send_link(
                    conn, user, "recovery", address, self.safe_redirect(redirect_to)
                )

    async def verify_link(
        self, *, token_hash: str | None, type: str | None, client: ClientInfo
    ) -> IssuedSession:
        """Redeem the token of an emailed link (its `token` parameter)."""
        kinds = self._kinds(type)
        await self.limiter.hit("verify", ip=client.ip, email=None)
        if not token_hash:
            raise _link_expired()
        async with self.db.as_service() as conn:
            row = await queries.take_token_by_hash(conn, hash_token(token_hash), kinds)
            if row is None:
                raise _link_expired()
            return await self._redeem(conn, row, client)

    async def verify_code(
        self, *, email: str | None, code: str | None, type: str | None, client: ClientInfo
    ) -> IssuedSession:
        """Redeem the 6-digit code of an emailed link, given with the address it went to."""
        kinds = self._kinds(type)
        address = normalize_email(email)
        await self.limiter.hit("verify", ip=client.ip, email=address)
        code = (code or "").strip()
        if not (len(code) == 6 and code.isdigit()):
            raise _code_expired()
        async with self.db.as_service() as conn:
            row = await queries.take_token_by_otp(
                conn, address, otp_hash(self._otp_key, address, code), kinds
            )
            if row is None:
                raise _code_expired()
            return await self._redeem(conn, row, client)

    # The signed-in user ----------------------------------------------------------------

    async def authenticate(self, access_token: str) -> AuthUser:
        """The user an access token belongs to, if its session is still live. A personal API
        key is refused by name: it acts on the studio's data, it is not a session, so it
        can neither read nor change the account (password, email, sign-out)."""
        if is_key_like(access_token):
            raise _api_key_refused()
        user = await self.verified_user(access_token)
        if not await self.session_is_live(user):
            raise _session_not_found()
        return user

    async def verified_user(self, access_token: str) -> AuthUser:
        """The user of a token we signed that names a session, WITHOUT checking that the
        session is still live: the caller must (`authenticate`, or `live_session_check`
        inside its own transaction)."""
        known = self._verified.get(access_token)
        if known is not None:
            if time.time() < known.claims["exp"]:
                self._verified.move_to_end(access_token)
                return known
            raise _bad_jwt()  # kept: refused again at once, until the oldest are dropped
        try:
            claims = await self._verifier.verify(access_token)
        except InvalidToken as exc:
            raise _bad_jwt() from exc
        user = AuthUser.from_claims(claims)
        if user.session_id is None:
            raise _session_not_found()
        if "nbf" not in claims:  # one not valid yet is checked again each time
            self._verified[access_token] = user
            if len(self._verified) > VERIFIED_TOKENS_KEPT:
                self._verified.popitem(last=False)
        return user

    @staticmethod
    def live_session_check(user: AuthUser) -> tuple[LiteralString, tuple[UUID | None, UUID]]:
        """SQL (read as the owner role) that is true while `user`'s session is live, with its
        parameters; `Database.as_user_if` runs it in the statement that opens the caller's
        transaction, so a logged-out token is refused without a round trip of its own."""
        return _LIVE_SESSION, (user.session_id, user.id)

    async def session_is_live(self, user: AuthUser) -> bool:
        if user.session_id is None:
            return False
        async with self.db.as_service() as conn:
            return await queries.session_is_live(conn, user.session_id, user.id)

    async def get_user(self, who: AuthUser) -> dict[str, Any]:
        async with self.db.as_service() as conn:
            return await self._reload(conn, who.id)

    async def update_user(
        self,
        who: AuthUser,
        *,
        email: str | None = None,
        password: str | None = None,
        current_password: str | None = None,
        data: dict[str, Any] | None = None,
        redirect_to: str | None = None,
        client: ClientInfo,
    ) -> dict[str, Any]:
        """Change the password (ending the user's other sessions), the email address
        (at once, or after confirming from the new address when confirmation is on), or
        merge `data` into the user metadata."""
        user = await self.get_user(who)
        new_hash = None
        if password is not None:
            self.check_password(password)
            stored = user["encrypted_password"]
            if current_password is not None and not await passwords.verify_password_async(
                stored, current_password
            ):
                raise invalid_credentials()
            if stored and await passwords.verify_password_async(stored, password):
                raise Unprocessable(
                    "New password should be different from the old password.",
                    code="same_password",
                )
            new_hash = await passwords.hash_password_async(password)
        new_email = None
        if email is not None:
            new_email = normalize_email(email)
            if new_email == (user["email"] or "").lower():
                new_email = None
            elif self.config.email_confirmation:
                await self.limiter.hit("email_change", ip=client.ip, email=new_email)
        try:
            async with self.db.as_service() as conn:
                if new_hash is not None:
                    await queries.set_password(conn, who.id, new_hash)
                    await queries.delete_user_sessions(conn, who.id, keep=who.session_id)
                if data:
                    await queries.merge_user_metadata(conn, who.id, data)
                if new_email is not None:
                    if not self.config.email_confirmation:
                        await queries.set_email(conn, who.id, new_email)
                    else:
                        if await queries.find_user_by_email(conn, new_email) is not None:
                            raise _email_exists()
                        await queries.set_pending_email(conn, who.id, new_email)
                        await self._send_link(
                            conn, user, "email_change", new_email, self.safe_redirect(redirect_to)
                        )
                return await self._reload(conn, who.id)
        except pg_errors.UniqueViolation as exc:
            raise _email_exists() from exc

    async def logout(self, who: AuthUser, scope: str = "global") -> None:
        """End this session (`local`), every session of the user (`global`), or all but
        this one (`others`). Access tokens of ended sessions stop working at once."""
        if scope not in LOGOUT_SCOPES:
            raise validation_failed(f'Unsupported logout scope "{scope}"')
        async with self.db.as_service() as conn:
            if scope == "local":
                if who.session_id is not None:
                    await queries.delete_session(conn, who.session_id)
            elif scope == "global":
                await queries.delete_user_sessions(conn, who.id)
            else:
                await queries.delete_user_sessions(conn, who.id, keep=who.session_id)

    # Internals ---------------------------------------------------------------------------

    def _kinds(self, type: str | None) -> list[str]:
        kinds = VERIFY_KINDS.get(type or "")
        if kinds is None:
            raise validation_failed(f'Verify requires a verification type, not "{type}"')
        return kinds

    async def _reload(self, conn: Connection, user_id: UUID) -> dict[str, Any]:
        user = await queries.find_user(conn, user_id)
        if user is None:
            raise Forbidden("User from sub claim in JWT does not exist", code="user_not_found")
        return user

    async def _issue(
        self, conn: Connection, user_id: UUID, session: dict[str, Any], refresh_token: str
    ) -> IssuedSession:
        user = await self._reload(conn, user_id)
        access_token, expires_at = self.signer.issue(
            user,
            session["id"],
            method=session["method"],
            authenticated_at=int(session["created_at"].timestamp()),
        )
        return IssuedSession(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_in=self.signer.expiry_seconds,
            expires_at=expires_at,
            user=user,
        )

    async def _start_session(
        self, conn: Connection, user_id: UUID, method: str, client: ClientInfo
    ) -> IssuedSession:
        session_id = await queries.create_session(
            conn, user_id, method=method, user_agent=client.user_agent, ip=client.ip
        )
        refresh_token = new_opaque_token()
        await queries.insert_refresh_token(conn, session_id, hash_token(refresh_token))
        await queries.record_sign_in(conn, user_id)
        session = await queries.get_session(conn, session_id)
        assert session is not None
        return await self._issue(conn, user_id, session, refresh_token)

    async def _continue_session(
        self, conn: Connection, token_row: dict[str, Any], client: ClientInfo
    ) -> IssuedSession:
        """The next refresh token of a session: a child of the one presented."""
        session_id: UUID = token_row["session_id"]
        refresh_token = new_opaque_token()
        await queries.insert_refresh_token(
            conn, session_id, hash_token(refresh_token), parent_id=token_row["id"]
        )
        await queries.touch_session(conn, session_id, user_agent=client.user_agent, ip=client.ip)
        await queries.prune_revoked_refresh_tokens(
            conn, session_id, older_than_seconds=KEEP_ROTATED_TOKENS_SECONDS
        )
        session = await queries.get_session(conn, session_id)
        assert session is not None
        return await self._issue(conn, token_row["user_id"], session, refresh_token)

    async def _redeem(
        self, conn: Connection, token: dict[str, Any], client: ClientInfo
    ) -> IssuedSession:
        """Apply what a verified link or code proves, then sign its owner in."""
        user_id: UUID = token["user_id"]
        if token["kind"] == "email_change":
            try:
                await queries.set_email(conn, user_id, token["email"])
            except pg_errors.UniqueViolation as exc:
                raise _email_exists() from exc
        else:
            # Following the link proves the address is theirs.
            await queries.confirm_email(conn, user_id)
        return await self._start_session(conn, user_id, SESSION_METHOD[token["kind"]], client)

    async def _send_link(
        self, conn: Connection, user: dict[str, Any], kind: str, to: str, redirect_to: str
    ) -> None:
        """Issue a one-time token of `kind` for `user` and post its link and code to `to`,
        inside the caller's transaction: the mail leaves only with the token (and a user
        created for it), and if it cannot be posted, none of them is kept."""
        link_token = new_opaque_token()
        code = new_otp()
        await queries.put_one_time_token(
            conn,
            user_id=user["id"],
            kind=kind,
            email=to,
            token_hash=hash_token(link_token),
            otp_hash=otp_hash(self._otp_key, to, code),
            lifetime_seconds=self.config.otp_expiry,
        )
        await queries.record_mail_sent(conn, user["id"], kind)
        query = urlencode({"token": link_token, "type": kind, "redirect_to": redirect_to})
        link = f"{self.config.api_url}/verify?{query}"
        try:
            await self.postbox.post(conn, AuthMail(kind=kind, to=to, link=link, code=code))
        except OSError as exc:
            # The outbox could not be written (a full or read-only disk).
            log.error("could not post %s mail to %s: %s", kind, to, exc)
            raise Failed(
                f"Error sending {_MAIL_NAMES[kind]} email", code="unexpected_failure"
            ) from exc


_MAIL_NAMES = {
    "magiclink": "magic link",
    "signup": "confirmation",
    "recovery": "recovery",
    "email_change": "email change",
}


# Enough for every signed-in tab of a busy instance; a token past it is simply checked again.
VERIFIED_TOKENS_KEPT = 10_000

# The same test as queries.auth.session_is_live, as an expression for `live_session_check`.
_LIVE_SESSION: LiteralString = (
    "exists (select 1 from utter.auth_sessions where id = %s and user_id = %s)"
)


def _bad_jwt() -> Forbidden:
    return Forbidden("invalid JWT: unable to parse or verify signature", code="bad_jwt")


def _api_key_refused() -> Forbidden:
    return Forbidden(
        "An API key cannot be used to manage the account. Sign in to do that.",
        code="bad_jwt",
    )


def _session_not_found() -> Forbidden:
    return Forbidden(
        "Session from session_id claim in JWT does not exist", code="session_not_found"
    )


def _email_exists() -> Unprocessable:
    return Unprocessable(
        "A user with this email address has already been registered", code="email_exists"
    )


def _user_exists() -> Unprocessable:
    return Unprocessable("User already registered", code="user_already_exists")


def _link_expired() -> Forbidden:
    return Forbidden("Email link is invalid or has expired", code="otp_expired")


def _code_expired() -> Forbidden:
    return Forbidden("Token has expired or is invalid", code="otp_expired")
