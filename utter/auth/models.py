"""The shapes /auth/v1 reads and writes (GoTrue's field names), and who a request is from."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

# Requests ------------------------------------------------------------------------------
# Clients send more than these (gotrue_meta_security, code_challenge, options …); the rest
# is ignored, as GoTrue ignores what it does not use.


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SignupBody(_Body):
    email: str | None = None
    phone: str | None = None
    password: str | None = None
    data: dict[str, Any] | None = None


class PasswordGrantBody(_Body):
    email: str | None = None
    phone: str | None = None
    password: str | None = None


class RefreshGrantBody(_Body):
    refresh_token: str | None = None


class OtpBody(_Body):
    email: str | None = None
    phone: str | None = None
    create_user: bool = True
    data: dict[str, Any] | None = None


class VerifyBody(_Body):
    type: str | None = None
    email: str | None = None
    phone: str | None = None
    token: str | None = None
    token_hash: str | None = None


class UserUpdateBody(_Body):
    email: str | None = None
    phone: str | None = None
    password: str | None = None
    current_password: str | None = None
    data: dict[str, Any] | None = None


class RecoverBody(_Body):
    email: str | None = None


# Responses -----------------------------------------------------------------------------


class IdentityOut(BaseModel):
    identity_id: str
    id: str
    user_id: str
    identity_data: dict[str, Any]
    provider: str
    email: str | None = None
    last_sign_in_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class UserOut(BaseModel):
    id: str
    aud: str
    role: str
    email: str
    phone: str = ""
    email_confirmed_at: datetime | None = None
    confirmed_at: datetime | None = None
    confirmation_sent_at: datetime | None = None
    recovery_sent_at: datetime | None = None
    new_email: str | None = None
    email_change_sent_at: datetime | None = None
    last_sign_in_at: datetime | None = None
    app_metadata: dict[str, Any]
    user_metadata: dict[str, Any]
    identities: list[IdentityOut]
    created_at: datetime
    updated_at: datetime | None = None
    is_anonymous: bool = False


class SessionOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105  (a token kind, not a secret)
    expires_in: int
    expires_at: int
    refresh_token: str
    user: UserOut


_IDENTITY_NAMESPACE = uuid.UUID("6f1d0b39-8a52-4b45-9d5f-3c0a54f0e1a7")


def user_out(row: dict[str, Any]) -> UserOut:
    """A user as GoTrue shows one, with the single `email` identity every account has."""
    user_id = str(row["id"])
    email = row.get("email") or ""
    confirmed = row.get("email_confirmed_at")
    identity = IdentityOut(
        identity_id=str(uuid.uuid5(_IDENTITY_NAMESPACE, user_id)),
        id=user_id,
        user_id=user_id,
        identity_data={
            "email": email,
            "email_verified": confirmed is not None,
            "phone_verified": False,
            "sub": user_id,
        },
        provider="email",
        email=email,
        last_sign_in_at=row.get("last_sign_in_at"),
        created_at=row.get("created_at"),
        updated_at=row.get("updated_at"),
    )
    return UserOut(
        id=user_id,
        aud=row.get("aud") or "authenticated",
        role=row.get("role") or "authenticated",
        email=email,
        email_confirmed_at=confirmed,
        confirmed_at=confirmed,
        confirmation_sent_at=row.get("confirmation_sent_at"),
        recovery_sent_at=row.get("recovery_sent_at"),
        new_email=row.get("email_change") or None,
        email_change_sent_at=row.get("email_change_sent_at"),
        last_sign_in_at=row.get("last_sign_in_at"),
        app_metadata=row.get("raw_app_meta_data") or {"provider": "email", "providers": ["email"]},
        user_metadata=row.get("raw_user_meta_data") or {},
        identities=[identity],
        created_at=row["created_at"],
        updated_at=row.get("updated_at"),
    )


def unknown_user_out(email: str, now: datetime) -> UserOut:
    """What sign-up answers for an email that already has an account while confirmation is
    on: a user that is not one (no identities), so the answer does not say the account
    exists. Clients tell it apart by its empty `identities`, as with GoTrue."""
    user_id = str(uuid.uuid4())
    return UserOut(
        id=user_id,
        aud="authenticated",
        role="authenticated",
        email=email,
        confirmation_sent_at=now,
        app_metadata={"provider": "email", "providers": ["email"]},
        user_metadata={},
        identities=[],
        created_at=now,
        updated_at=now,
    )


# Who is asking -------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthUser:
    """The signed-in user a request comes from, as its verified access token says, or as
    one of their personal API keys says (`key_id`: that key; no session, no email)."""

    id: UUID
    email: str | None
    claims: dict[str, Any]
    session_id: UUID | None = None
    key_id: UUID | None = None

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> AuthUser:
        session = claims.get("session_id")
        try:
            session_id = UUID(str(session)) if session else None
        except ValueError:
            session_id = None
        return cls(
            id=UUID(str(claims["sub"])),
            email=claims.get("email") or None,
            claims=claims,
            session_id=session_id,
        )


@dataclass(frozen=True)
class ClientInfo:
    """Where a request came from, for rate limits and the session record."""

    ip: str | None = None
    user_agent: str | None = None
