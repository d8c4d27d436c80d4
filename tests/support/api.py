"""Users signed up through the HTTP API, for every test that calls `/api` as someone.

user = await sign_up(client)
response = await client.get("/api/me", headers=user.headers)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class ApiUser:
    id: uuid.UUID
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def new_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.test"


def _from_session(body: dict[str, object], email: str, password: str) -> ApiUser:
    user = body["user"]
    assert isinstance(user, dict)
    return ApiUser(
        id=uuid.UUID(str(user["id"])),
        email=email,
        password=password,
        access_token=str(body["access_token"]),
        refresh_token=str(body["refresh_token"]),
    )


async def sign_up(
    client: httpx.AsyncClient, email: str | None = None, password: str = DEFAULT_PASSWORD
) -> ApiUser:
    """A new account made with POST /auth/v1/signup (email confirmation off, the default),
    signed in."""
    email = email or new_email()
    response = await client.post("/auth/v1/signup", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return _from_session(response.json(), email, password)


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = DEFAULT_PASSWORD
) -> ApiUser:
    """A new session for an existing account, by POST /auth/v1/token?grant_type=password."""
    response = await client.post(
        "/auth/v1/token",
        params={"grant_type": "password"},
        json={"email": email, "password": password},
    )
    assert response.status_code == 200, response.text
    return _from_session(response.json(), email, password)


async def sign_up_with_voice(client: httpx.AsyncClient) -> tuple[ApiUser, str]:
    """A new account with one cloned voice ("Joe", the test speech clip) and that voice's id."""
    from tests.support import audio

    user = await sign_up(client)
    response = await client.post(
        "/api/clone",
        data={"name": "Joe", "language": "English", "transcript": " ".join(audio.SENTENCES)},
        files={"audio": ("joe.wav", audio.encode(audio.speech(), "wav"))},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    return user, str(response.json()["id"])


@dataclass
class TaskApi:
    """A client's calls to make a generation and follow its task through /api."""

    client: httpx.AsyncClient

    async def user_with_voice(self) -> tuple[ApiUser, str]:
        return await sign_up_with_voice(self.client)

    async def generate(self, user: ApiUser, voice_id: str, text: str) -> dict[str, Any]:
        response = await self.client.post(
            "/api/generate",
            json={"voice_id": voice_id, "text": text, "language": "English"},
            headers=user.headers,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def task(self, user: ApiUser, task_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/api/tasks/{task_id}", headers=user.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def wait_for(
        self,
        user: ApiUser,
        task_id: str,
        *,
        until: Callable[[dict[str, Any]], Any] | None = None,
        within: float = 180,
    ) -> dict[str, Any]:
        """Poll the task until `until(task)` (default: a terminal status)."""
        done = until or (lambda t: t["status"] in ("completed", "failed", "cancelled"))
        deadline = time.monotonic() + within
        while True:
            task = await self.task(user, task_id)
            if done(task):
                return task
            assert time.monotonic() < deadline, f"task never got there: {task}"
            await asyncio.sleep(0.1)
