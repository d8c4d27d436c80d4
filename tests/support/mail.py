"""Reading auth mail in tests: the outbox of an app, the link and code in a message, and
following a link to where it redirects."""

from __future__ import annotations

import re
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI

from utter.auth.mailer import outbox_dir, read_outbox

LINK = re.compile(r"(https?://\S+/auth/v1/verify\?\S+)")
CODE = re.compile(r"code: (\d{6})")


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def link_and_code(message: EmailMessage) -> tuple[str, str]:
    text = text_of(message)
    link, code = LINK.search(text), CODE.search(text)
    assert link and code, text
    return link.group(1), code.group(1)


def last_mail(app: FastAPI, to: str) -> EmailMessage:
    """The newest message the app put in its outbox for `to`."""
    messages = read_outbox(outbox_dir(app.state.settings), to=to)
    assert messages, f"no mail to {to}"
    return messages[-1]


def fragment(location: str) -> dict[str, str]:
    """The parameters in a redirect's URL fragment (where GoTrue puts the session)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).fragment).items()}


async def follow(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """GET an emailed link through `client` (whatever host the link names); expect 303."""
    parts = urlsplit(link)
    response = await client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 303, response.text
    return response
