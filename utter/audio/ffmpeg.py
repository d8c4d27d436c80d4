"""Running the ffmpeg binary that ships in the `imageio-ffmpeg` wheel.

No system ffmpeg is needed. Every call has a time limit, reads from a file we wrote
(never a URL) and, for untrusted input, allows only the demuxers of the formats we
accept: ffmpeg can otherwise follow playlists (HLS, concat) that name other files.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from utter.audio.errors import AudioError

# The demuxers for WAV, MP3, MP4/M4A, Ogg, Matroska/WebM, FLAC and raw ADTS AAC.
ACCEPTED_DEMUXERS = "wav,mp3,mov,ogg,matroska,flac,aac"

# Decoding five minutes of any accepted format takes well under a second; a minute
# means something is wrong (a pathological file, an overloaded machine).
DEFAULT_TIMEOUT_SECONDS = 60.0


@lru_cache(maxsize=1)
def executable() -> str:
    """Path of the bundled ffmpeg binary."""
    import imageio_ffmpeg  # imported late: it looks for the binary on import

    return str(imageio_ffmpeg.get_ffmpeg_exe())


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: bytes
    stderr: str


def run(
    args: list[str], *, stdin: bytes | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> Result:
    """Run ffmpeg with `args` (after the common flags); raise AudioError on timeout."""
    # -nostdin only stops ffmpeg reading keystrokes; `-i pipe:0` still reads `stdin`.
    command = [executable(), "-hide_banner", "-nostdin", "-nostats", *args]
    try:
        completed = subprocess.run(
            command,
            input=stdin if stdin is not None else b"",
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AudioError("The audio file took too long to process.", "timeout") from exc
    return Result(
        completed.returncode, completed.stdout, completed.stderr.decode("utf-8", "replace")
    )


def untrusted_input(path: Path) -> list[str]:
    """Input flags for a file a user gave us: local file only, accepted containers only."""
    return [
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        ACCEPTED_DEMUXERS,
        "-i",
        f"file:{path}",
    ]
