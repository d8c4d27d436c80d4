"""Decoding any accepted audio file, by its content, to mono float32 samples.

The file name and the client's content type are never consulted: ffmpeg probes
the bytes (from a temporary file with no extension), only the demuxers of the
accepted formats are allowed, and a file that opens but is damaged is refused
rather than silently shortened. The checks, in order:

1. ffmpeg cannot open it: "corrupt" when the first bytes announce an accepted
   format, otherwise "not audio" (naming what it looks like when we can tell);
2. it opens but has no audio stream (a silent video, an image in a container): "not audio";
3. ffmpeg logged an error while decoding (bad frames, "file ended prematurely",
   a missing MP4 index): "corrupt";
4. the container's framing shows the last unit cut off (`integrity`): "corrupt";
5. the container states an exact duration and the decoded audio is clearly
   shorter: "corrupt".

Calls block (they run a subprocess); call them from a worker thread in async code.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from utter.audio import ffmpeg
from utter.audio.errors import AudioError, corrupt
from utter.audio.formats import (
    ACCEPTED_LABELS,
    REFERENCE_SAMPLE_RATE,
    AudioFormat,
    describe_non_audio,
    format_for_demuxer,
    sniff,
)
from utter.audio.integrity import is_truncated
from utter.audio.validate import too_long

Samples = npt.NDArray[np.float32]

# A container's stated duration may differ from the decoded length by encoder
# delay and padding (tens of milliseconds); a cut file falls short by far more.
_DURATION_SLACK_SECONDS = 0.5
_DURATION_SLACK_FRACTION = 0.03

# Decode a little past the limit so "exactly at the limit" is not mistaken for "over".
_LIMIT_SLACK_SECONDS = 0.5


@dataclass(frozen=True)
class DecodedAudio:
    """Mono float32 samples (nominally in [-1, 1]; lossy codecs may overshoot slightly)."""

    samples: Samples
    sample_rate: int
    format: AudioFormat
    codec: str  # ffmpeg's codec name, e.g. "opus", "pcm_s16le"

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.sample_rate)


@dataclass(frozen=True)
class _Probe:
    demuxer: str | None = None
    duration: float | None = None  # None when unknown or only estimated
    audio_codec: str | None = None
    other_streams: tuple[str, ...] = ()  # kinds of non-audio streams ("Video", …)
    errors: tuple[str, ...] = ()


_LINE = re.compile(r"^(?:\[[^\]]*@[^\]]*\] )*\[(?P<level>[a-z]+)\] (?P<message>.*)$")
_INPUT = re.compile(r"^Input #0, (?P<demuxer>.+?), from ")
_DURATION = re.compile(r"^  Duration: (?:N/A|(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d(?:\.\d+)?))")
_STREAM = re.compile(r"^  Stream #0:\d+\S*: (?P<kind>[A-Za-z]+): (?P<codec>[^\s,]+)")


def _parse_log(stderr: str) -> _Probe:
    """Read ffmpeg's `-loglevel level+info` output: the input section and the errors."""
    demuxer: str | None = None
    duration: float | None = None
    estimated = False
    audio_codec: str | None = None
    others: list[str] = []
    errors: list[str] = []
    in_input = False
    for raw in stderr.splitlines():
        line = _LINE.match(raw)
        if line is None:
            continue
        level, message = line["level"], line["message"]
        if level in ("error", "fatal", "panic"):
            errors.append(message.strip())
            continue
        if "Estimating duration from bitrate" in message:
            estimated = True
        if level != "info":
            continue
        if match := _INPUT.match(message):
            demuxer, in_input = match["demuxer"], True
        elif message.startswith(("Stream mapping:", "Output #")):
            in_input = False
        elif in_input and (match := _DURATION.match(message)):
            if match["h"] is not None:
                duration = int(match["h"]) * 3600 + int(match["m"]) * 60 + float(match["s"])
        elif in_input and (match := _STREAM.match(message)):
            if match["kind"] == "Audio":
                audio_codec = audio_codec or match["codec"]
            else:
                others.append(match["kind"])
    return _Probe(
        demuxer=demuxer,
        duration=None if estimated else duration,
        audio_codec=audio_codec,
        other_streams=tuple(others),
        errors=tuple(errors),
    )


def not_audio(hint: str | None) -> AudioError:
    detail = f" ({hint})" if hint else ""
    return AudioError(
        f"This file is not audio we can read{detail}. Use {ACCEPTED_LABELS}.", "not_audio"
    )


def decode(
    source: bytes | Path,
    sample_rate: int = REFERENCE_SAMPLE_RATE,
    *,
    max_seconds: float | None = None,
    timeout: float = ffmpeg.DEFAULT_TIMEOUT_SECONDS,
) -> DecodedAudio:
    """Decode an uploaded file (bytes, or a path whose name is ignored) to mono float32.

    With `max_seconds`, decoding stops just past that length and a longer file raises
    AudioError("too_long"), so a huge upload costs no more than the limit.
    Raises AudioError for anything that is not intact audio in an accepted format.
    """
    data = source.read_bytes() if isinstance(source, Path) else bytes(source)
    if not data:
        raise AudioError("The file is empty.", "empty")
    with tempfile.TemporaryDirectory(prefix="utter-audio-") as scratch:
        # No extension, so ffmpeg goes by the content alone.
        path = Path(scratch) / "input"
        if isinstance(source, Path):
            os.symlink(source.resolve(), path)
        else:
            path.write_bytes(data)
        limit = [] if max_seconds is None else ["-t", f"{max_seconds + _LIMIT_SLACK_SECONDS:.3f}"]
        result = ffmpeg.run(
            [
                "-loglevel",
                "level+info",
                *ffmpeg.untrusted_input(path),
                "-map",
                "0:a:0?",
                "-vn",
                "-sn",
                "-dn",
                "-ac",
                "1",
                "-ar",
                str(sample_rate),
                *limit,
                "-f",
                "f32le",
                "pipe:1",
            ],
            timeout=timeout,
        )
    probe = _parse_log(result.stderr)
    head = data[:512]

    if probe.demuxer is None:
        if sniff(head) is not None:
            raise corrupt()
        raise not_audio(describe_non_audio(head))
    fmt = format_for_demuxer(probe.demuxer)
    if fmt is None:  # cannot happen with the demuxer whitelist; kept as a guard
        raise not_audio(None)
    if probe.audio_codec is None:
        hint = "it has no sound track" if "Video" in probe.other_streams else "it holds no audio"
        raise not_audio(hint)
    if probe.errors or result.returncode != 0:
        raise corrupt()
    if is_truncated(data, fmt):
        raise corrupt()

    samples = np.frombuffer(result.stdout, dtype="<f4").astype(np.float32)
    decoded = DecodedAudio(samples, sample_rate, fmt, probe.audio_codec)
    if max_seconds is not None and decoded.duration > max_seconds:
        stated = probe.duration if probe.duration and probe.duration > max_seconds else None
        raise too_long(stated, max_seconds)
    # The container's duration is its longest stream's: only with audio alone does it say
    # how long the sound should be (a video's picture may run on past its sound track).
    if probe.duration is not None and not probe.other_streams:
        slack = max(_DURATION_SLACK_SECONDS, _DURATION_SLACK_FRACTION * probe.duration)
        if decoded.duration < probe.duration - slack:
            raise corrupt()
    return decoded
