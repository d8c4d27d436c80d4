"""The uvicorn options `utter serve` takes from the settings, in one place, so the tests run
a server configured exactly as the command runs it."""

from __future__ import annotations

from typing import Any

from utter.settings import Settings


def proxy_options(settings: Settings) -> dict[str, Any]:
    """Whose X-Forwarded-For / X-Forwarded-Proto uvicorn believes: only UTTER_FORWARDED_ALLOW_IPS.
    uvicorn's own default trusts 127.0.0.1, so anything on this machine could name any client
    IP (and get a fresh per-IP rate limit with each request); empty turns the headers off."""
    allowed = [ip.strip() for ip in settings.forwarded_allow_ips.split(",") if ip.strip()]
    return {"proxy_headers": bool(allowed), "forwarded_allow_ips": allowed}
