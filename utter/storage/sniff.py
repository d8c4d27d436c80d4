"""What kind of audio an upload is, from its first bytes (never from its name or declared type).

The magic numbers themselves live with the audio formats (`utter.audio.formats.sniff`);
this module turns them into the MIME types a bucket's `allowed_mime_types` speak.
A file that sniffs as audio may still be corrupt: decoding it is the audio layer's check.
"""

from __future__ import annotations

from collections.abc import Iterable

from utter.audio.formats import SNIFF_BYTES, sniff

__all__ = ["SNIFF_BYTES", "mime_allowed", "sniff_audio"]


def sniff_audio(head: bytes) -> str | None:
    """The MIME type of the audio these leading bytes start, or None when they are not audio."""
    found = sniff(head)
    return None if found is None else found.content_type


def mime_allowed(mime: str, allowed: Iterable[str] | None) -> bool:
    """Whether a bucket whose `allowed_mime_types` is `allowed` accepts `mime`.
    None or empty allows everything; `audio/*` style wildcards match a whole type."""
    patterns = list(allowed or ())
    if not patterns:
        return True
    major = mime.split("/", 1)[0]
    return any(p == mime or (p.endswith("/*") and p[:-2] == major) for p in patterns)
