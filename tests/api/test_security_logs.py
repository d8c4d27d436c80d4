"""No signed token in any log line: uvicorn's access log of a real server, the auth mail log,
and any other record, once logging is set up as `utter serve` sets it up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.mail import link_and_code
from tests.support.server import app_settings, serve_asgi
from utter.app import create_app
from utter.auth.mailer import read_outbox
from utter.cli import _configure_logging
from utter.db import Database
from utter.logs import REDACTED

SECRET = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2lnbmF0dXJl"


@pytest.fixture
def redacting(tmp_path: Path) -> Iterator[None]:
    """Logging as `utter serve` configures it; the process's record factory restored after."""
    factory = logging.getLogRecordFactory()
    _configure_logging(app_settings(tmp_path))
    try:
        yield
    finally:
        logging.setLogRecordFactory(factory)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.arrived = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.arrived.set()


def test_the_access_log_of_a_real_server_holds_no_token(
    redacting: None, database_url: str, tmp_path: Path
) -> None:
    collect = Collect()
    access = logging.getLogger("uvicorn.access")
    with serve_asgi(
        lambda url: create_app(app_settings(tmp_path, database_url=database_url, public_url=url)),
        log_level="info",
        access_log=True,
    ) as url:
        # uvicorn set up its loggers when the server was made; listen from now on.
        access.addHandler(collect)
        try:
            path = (
                "/storage/v1/object/sign/generations/someone/clip.wav"
                f"?token={SECRET}&download=clip.wav&apikey=anon-key&refresh_token={SECRET}"
            )
            httpx.get(url + path, timeout=30)
            assert collect.arrived.wait(timeout=30)
        finally:
            access.removeHandler(collect)
    line = "\n".join(collect.lines)
    assert "GET /storage/v1/object/sign/generations/someone/clip.wav?" in line
    assert SECRET not in line and "anon-key" not in line
    assert f"token={REDACTED}&download=clip.wav&apikey={REDACTED}&refresh_token={REDACTED}" in line


async def test_the_mail_log_keeps_the_code_but_not_the_links_token(
    redacting: None, db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    email = f"logs-{tmp_path.name[-8:]}@example.test".lower()
    app = create_app(app_settings(tmp_path, public_url="http://testserver"), db=db)
    transport = httpx.ASGITransport(app=app)
    with caplog.at_level(logging.INFO, logger="utter.auth"):
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.post("/auth/v1/otp", json={"email": email})).status_code == 200
    (message,) = read_outbox(tmp_path / "outbox", to=email)
    link, code = link_and_code(message)
    token = httpx.URL(link).params["token"]
    logged = [r.getMessage() for r in caplog.records if email in r.getMessage()]
    assert logged, caplog.text
    assert all(token not in line for line in logged)
    assert any(f"token={REDACTED}" in line and code in line for line in logged)


def test_any_record_is_redacted(redacting: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("somewhere.else").info(
            "fetched %s then %s (%d)",
            httpx.URL(f"https://s3.example.test/b/k?X-Amz-Signature=abc&token={SECRET}"),
            f"/auth/v1/verify?type=magiclink&token={SECRET}",
            200,
        )
        logging.getLogger("utter").warning(f"access_token={SECRET}#and more")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET not in text and "abc" not in text
    assert f"X-Amz-Signature={REDACTED}&token={REDACTED}" in text
    assert f"/auth/v1/verify?type=magiclink&token={REDACTED} (200)" in text
    assert f"access_token={REDACTED}#and more" in text
