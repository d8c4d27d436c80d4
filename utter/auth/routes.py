"""/auth/v1: the built-in auth in Supabase Auth's (GoTrue's) REST dialect, so the official
Supabase clients work against it unchanged. Thin: parse, call `AuthService`, shape.

Clients also send an `apikey` header (Supabase's project key); it is accepted and ignored.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError

from utter import __version__
from utter.api.errors import http_status
from utter.auth.errors import UNEXPECTED_FAILURE, GoTrueRoute, validation_failed
from utter.auth.models import (
    AuthUser,
    ClientInfo,
    OtpBody,
    PasswordGrantBody,
    RecoverBody,
    RefreshGrantBody,
    SessionOut,
    SignupBody,
    UserOut,
    UserUpdateBody,
    VerifyBody,
    user_out,
)
from utter.auth.service import AuthService, IssuedSession
from utter.errors import Invalid, Unauthenticated, UtterError, text_problem

router = APIRouter(prefix="/auth/v1", tags=["auth"], route_class=GoTrueRoute)

RequestModel = TypeVar("RequestModel", bound=BaseModel)
RedirectTo = Annotated[str | None, Query(description="Where emailed links lead afterwards.")]


def _service(request: Request) -> AuthService:
    service: AuthService | None = request.app.state.auth.service
    assert service is not None, "the /auth/v1 routes are mounted only in builtin mode"
    return service


def _client(request: Request) -> ClientInfo:
    return ClientInfo(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


async def _body(request: Request, model: type[RequestModel]) -> RequestModel:
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise Invalid("Could not parse request body as JSON", code="bad_json") from exc
    if not isinstance(data, dict):
        raise Invalid("Request body must be a JSON object", code="bad_json")
    if problem := _text_problem(data):
        raise validation_failed(problem)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise validation_failed(f"{field}: {first['msg']}") from exc


def _text_problem(value: Any) -> str | None:
    """What makes a body unstorable (a NUL, a lone surrogate) anywhere in it, keys included:
    Postgres takes neither in text nor in jsonb."""
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, dict):
        pairs = (_text_problem(k) or _text_problem(v) for k, v in value.items())
        return next(filter(None, pairs), None)
    if isinstance(value, list):
        return next(filter(None, map(_text_problem, value)), None)
    return None


def _documents(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a JSON body the route parses itself (to answer in GoTrue's error shape)."""
    return {
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


async def _signed_in(request: Request) -> AuthUser:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "This endpoint requires a valid Bearer token", code="no_authorization"
        )
    return await _service(request).authenticate(token.strip())


def _session_out(issued: IssuedSession) -> SessionOut:
    return SessionOut(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        expires_at=issued.expires_at,
        refresh_token=issued.refresh_token,
        user=user_out(issued.user),
    )


def _no_phone(phone: str | None) -> None:
    if phone:
        raise Invalid("Phone logins are disabled", code="phone_provider_disabled")


@router.post(
    "/signup",
    response_model=SessionOut | UserOut,
    response_model_exclude_none=True,
    openapi_extra=_documents(SignupBody),
)
async def signup(request: Request, redirect_to: RedirectTo = None) -> SessionOut | UserOut:
    """Create an account. With email confirmation off (the default) the answer is a
    session; with it on, the user, and a confirmation link is mailed."""
    body = await _body(request, SignupBody)
    _no_phone(body.phone)
    result = await _service(request).signup(
        email=body.email,
        password=body.password,
        data=body.data,
        redirect_to=redirect_to,
        client=_client(request),
    )
    if result.session is not None:
        return _session_out(result.session)
    if isinstance(result.user, UserOut):
        return result.user
    assert result.user is not None
    return user_out(result.user)


@router.post(
    "/token",
    response_model=SessionOut,
    response_model_exclude_none=True,
    openapi_extra=_documents(PasswordGrantBody),
)
async def token(
    request: Request,
    grant_type: Annotated[str, Query(description="`password` or `refresh_token`.")] = "",
) -> SessionOut:
    """Sign in with a password, or swap a refresh token for a new session token."""
    service = _service(request)
    if grant_type == "password":
        body = await _body(request, PasswordGrantBody)
        _no_phone(body.phone)
        issued = await service.sign_in_with_password(
            email=body.email, password=body.password, client=_client(request)
        )
    elif grant_type == "refresh_token":
        refresh = await _body(request, RefreshGrantBody)
        issued = await service.refresh(refresh.refresh_token, _client(request))
    else:
        raise validation_failed("unsupported_grant_type")
    return _session_out(issued)


@router.post("/otp", openapi_extra=_documents(OtpBody))
async def otp(request: Request, redirect_to: RedirectTo = None) -> dict[str, Any]:
    """Mail a magic link (and its 6-digit code). `create_user: false` only signs in
    existing accounts."""
    body = await _body(request, OtpBody)
    if body.phone and not body.email:
        raise Invalid("Unsupported phone provider", code="phone_provider_disabled")
    await _service(request).send_magic_link(
        email=body.email,
        create_user=body.create_user,
        data=body.data,
        redirect_to=redirect_to,
        client=_client(request),
    )
    return {}


@router.get("/verify", response_class=RedirectResponse, status_code=303)
async def verify_link(
    request: Request,
    token: str | None = None,
    type: str | None = None,
    redirect_to: RedirectTo = None,
) -> RedirectResponse:
    """Where emailed links lead: redeem the token, then redirect to `redirect_to` with the
    session in the URL fragment (`#access_token=…&refresh_token=…&type=…`), or with
    `#error=…&error_code=…&error_description=…`."""
    service = _service(request)
    target = service.safe_redirect(redirect_to)
    try:
        issued = await service.verify_link(token_hash=token, type=type, client=_client(request))
    except UtterError as exc:
        fragment = urlencode(
            {
                "error": "access_denied" if http_status(exc) < 500 else "server_error",
                "error_code": exc.code or UNEXPECTED_FAILURE,
                "error_description": exc.message,
            }
        )
        return RedirectResponse(f"{target}#{fragment}", status_code=303)
    fragment = urlencode(
        {
            "access_token": issued.access_token,
            "expires_at": issued.expires_at,
            "expires_in": issued.expires_in,
            "refresh_token": issued.refresh_token,
            "token_type": "bearer",
            "type": type,
        }
    )
    return RedirectResponse(f"{target}#{fragment}", status_code=303)


@router.post(
    "/verify",
    response_model=SessionOut,
    response_model_exclude_none=True,
    openapi_extra=_documents(VerifyBody),
)
async def verify(request: Request) -> SessionOut:
    """Redeem an emailed code (`email` + 6-digit `token`) or link token (`token_hash`)."""
    body = await _body(request, VerifyBody)
    _no_phone(body.phone)
    service = _service(request)
    if body.token_hash:
        issued = await service.verify_link(
            token_hash=body.token_hash, type=body.type, client=_client(request)
        )
    else:
        issued = await service.verify_code(
            email=body.email, code=body.token, type=body.type, client=_client(request)
        )
    return _session_out(issued)


@router.get("/user", response_model=UserOut, response_model_exclude_none=True)
async def get_user(request: Request) -> UserOut:
    who = await _signed_in(request)
    return user_out(await _service(request).get_user(who))


@router.put(
    "/user",
    response_model=UserOut,
    response_model_exclude_none=True,
    openapi_extra=_documents(UserUpdateBody),
)
async def update_user(request: Request, redirect_to: RedirectTo = None) -> UserOut:
    """Change the password, the email address, or `data` (merged into user_metadata)."""
    who = await _signed_in(request)
    body = await _body(request, UserUpdateBody)
    if body.phone:
        raise Invalid("Phone logins are disabled", code="phone_provider_disabled")
    user = await _service(request).update_user(
        who,
        email=body.email,
        password=body.password,
        current_password=body.current_password,
        data=body.data,
        redirect_to=redirect_to,
        client=_client(request),
    )
    return user_out(user)


@router.post("/logout", status_code=204, response_class=Response)
async def logout(
    request: Request,
    scope: Annotated[str, Query(description="`global` (default), `local` or `others`.")] = (
        "global"
    ),
) -> Response:
    who = await _signed_in(request)
    await _service(request).logout(who, scope)
    return Response(status_code=204)


@router.post("/recover", openapi_extra=_documents(RecoverBody))
async def recover(request: Request, redirect_to: RedirectTo = None) -> dict[str, Any]:
    """Mail a password-reset link. The answer is the same whether the account exists."""
    body = await _body(request, RecoverBody)
    await _service(request).send_recovery(
        email=body.email, redirect_to=redirect_to, client=_client(request)
    )
    return {}


@router.get("/settings")
async def settings(request: Request) -> dict[str, Any]:
    """Which sign-in methods are on, as GoTrue reports them."""
    config = _service(request).config
    return {
        "external": {
            "anonymous_users": False,
            "email": True,
            "phone": False,
            "saml": False,
            **{
                provider: False
                for provider in (
                    "apple",
                    "azure",
                    "bitbucket",
                    "discord",
                    "facebook",
                    "figma",
                    "github",
                    "gitlab",
                    "google",
                    "keycloak",
                    "kakao",
                    "linkedin_oidc",
                    "notion",
                    "slack_oidc",
                    "spotify",
                    "twitch",
                    "twitter",
                    "workos",
                    "zoom",
                )
            },
        },
        "disable_signup": False,
        "mailer_autoconfirm": not config.email_confirmation,
        "phone_autoconfirm": False,
        "sms_provider": "",
        "saml_enabled": False,
    }


@router.get("/health")
async def health() -> dict[str, str]:
    return {
        "version": __version__,
        "name": "Utter Auth",
        "description": "Utter's built-in auth, speaking Supabase Auth's (GoTrue's) API",
    }


@router.get("/.well-known/jwks.json")
async def jwks() -> dict[str, list[Any]]:
    """Empty: the built-in auth signs with a symmetric key, which is never published.
    Clients then confirm tokens with GET /user, as they do for any HS256 project."""
    return {"keys": []}
