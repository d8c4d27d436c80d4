"""Speakers that are not Piper's voice, from packages anyone can install, for measuring clones.

Each speaker has a reference (a recording of about 8-20 s with its transcript, as a user
would upload it) and held-out speech of the same person saying other things: a clone is
judged against the held-out speech, never against its own reference.

Where they come from (scripts/install-test-deps.sh installs the Debian packages):

- Asterisk's prompts, one professional speaker per language, recorded at 8 kHz, with the
  transcripts in the `asterisk-core-sounds-<lang>` packages
  (/usr/share/doc/asterisk-core-sounds-<lang>/core-sounds-<lang>.txt.gz):
  Allison (US English, female; `asterisk-core-sounds-en-wav`), June (Canadian French,
  female; `-fr-wav`), Carlo (Italian, male; `-it-wav`) and the Russian prompts' speaker
  (female; `-ru-wav`). The non-English speakers read their own language; the clones
  speak English, so they also measure how a speaker carries across languages.
- Allison through a telephone codec: the same prompts as GSM 06.10
  (`asterisk-core-sounds-en-gsm`), decoded by ffmpeg. Its held-out speech is her clean
  recordings: a clone of a phone recording should sound like the person, not the line.
- flite's voices (Debian `flite`): awb (Scottish English, male), rms (US male), slt (US
  female), built from recordings of real speakers (CMU ARCTIC), and kal (US male, an older
  diphone voice at 8 kHz). Synthetic, but distinct and deterministic.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

Samples = npt.NDArray[np.float32]

ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds")
ASTERISK_DOCS = Path("/usr/share/doc")


@dataclass(frozen=True)
class Clip:
    samples: Samples  # mono float32
    sample_rate: int
    text: str

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate

    def wav_bytes(self) -> bytes:
        """The clip as a 16-bit WAV file: what a user would upload."""
        import io

        buffer = io.BytesIO()
        sf.write(buffer, self.samples, self.sample_rate, format="WAV", subtype="PCM_16")
        return buffer.getvalue()


@dataclass(frozen=True)
class Speaker:
    name: str
    person: str  # speakers that are one person (a channel variant) share this
    real: bool  # a human recording, not a synthesiser
    sex: str  # "female" / "male"
    accent: str
    channel: str
    package: str  # the Debian package the audio comes from
    reference: Callable[[], Clip] = field(repr=False, compare=False)
    held_out: Callable[[], list[Clip]] = field(repr=False, compare=False)

    def available(self) -> bool:
        """Whether its package is installed (scripts/install-test-deps.sh)."""
        try:
            self.reference()
        except (OSError, subprocess.CalledProcessError):
            return False
        return True


# --- Asterisk prompts -------------------------------------------------------------------

_LINE = re.compile(r"^([\w/-]+):\s*(.+)$")


@cache
def _asterisk_transcripts(lang: str) -> dict[str, str]:
    path = ASTERISK_DOCS / f"asterisk-core-sounds-{lang}" / f"core-sounds-{lang}.txt.gz"
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as lines:
        found = (_LINE.match(line.strip()) for line in lines)
        return {m.group(1): m.group(2).strip().strip("“”") for m in found if m}


def _decode_gsm(path: Path) -> tuple[Samples, int]:
    """Asterisk's .gsm files are raw GSM 06.10 frames at 8 kHz; the bundled ffmpeg reads them
    (the upload path does not accept raw GSM, so the reference is handed over as WAV)."""
    from utter.audio import ffmpeg

    wav = subprocess.run(
        [ffmpeg.executable(), "-v", "error", "-f", "gsm", "-i", str(path), "-f", "wav", "-"],
        check=True,
        capture_output=True,
    ).stdout
    import io

    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return samples, rate


def _asterisk_clip(lang: str, folder: str, prompt: str, codec: str = "wav") -> Clip:
    path = ASTERISK_SOUNDS / folder / f"{prompt}.{codec}"
    if not path.exists():
        raise FileNotFoundError(path)
    if codec == "gsm":
        samples, rate = _decode_gsm(path)
    else:
        samples, rate = sf.read(path, dtype="float32")
    return Clip(samples, int(rate), _asterisk_transcripts(lang)[prompt])


# Reference: one prompt of 18-22 s; held-out: two long prompts of other text.
_ASTERISK_REFERENCE = "demo-echotest"
_ASTERISK_HELD_OUT = ("demo-congrats", "vm-options")


def _asterisk(
    name: str,
    lang: str,
    folder: str,
    sex: str,
    accent: str,
    codec: str = "wav",
    reference: str = _ASTERISK_REFERENCE,
) -> Speaker:
    package = f"asterisk-core-sounds-{lang}-{codec}"
    return Speaker(
        name=name,
        person=folder,
        real=True,
        sex=sex,
        accent=accent,
        channel="GSM 06.10 telephone codec, 8 kHz" if codec == "gsm" else "studio, 8 kHz",
        package=package,
        reference=lambda: _asterisk_clip(lang, folder, reference, codec),
        # A channel variant is judged against the person's clean speech.
        held_out=lambda: [_asterisk_clip(lang, folder, p) for p in _ASTERISK_HELD_OUT],
    )


# --- flite ------------------------------------------------------------------------------

FLITE_REFERENCE = (
    "Peter picked a basket of apples from the old tree behind the house. A journey of a "
    "thousand miles begins with a single step, or so they say. Nobody expected the "
    "weather to turn so quickly that afternoon, and by evening the streets were flooded."
)
FLITE_HELD_OUT = (
    "The museum opens early on weekdays, but most visitors arrive after lunch. Children "
    "love the room full of old clocks, each one ticking at its own speed.",
    "She wrapped the present in brown paper and tied it with a red ribbon. Then she "
    "wrote a short note, folded it twice and slipped it under the bow.",
)


@cache
def _flite(voice: str, text: str) -> Clip:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(out)], check=True)
        samples, rate = sf.read(out, dtype="float32")
    return Clip(samples, int(rate), text)


def _flite_speaker(voice: str, sex: str, accent: str, origin: str) -> Speaker:
    return Speaker(
        name=f"flite {voice}",
        person=f"flite-{voice}",
        real=False,
        sex=sex,
        accent=accent,
        channel=origin,
        package="flite",
        reference=lambda: _flite(voice, FLITE_REFERENCE),
        held_out=lambda: [_flite(voice, text) for text in FLITE_HELD_OUT],
    )


SPEAKERS: tuple[Speaker, ...] = (
    _asterisk("Allison", "en", "en_US_f_Allison", "female", "US English"),
    _asterisk("Allison (GSM)", "en", "en_US_f_Allison", "female", "US English", codec="gsm"),
    _asterisk("June", "fr", "fr_CA_f_June", "female", "Canadian French"),
    _asterisk("Carlo", "it", "it_IT_m_Carlo", "male", "Italian"),
    # Her echo-test prompt is only 7.5 s; the message-menu prompt is 18 s.
    _asterisk(
        "Russian prompts",
        "ru",
        "ru_RU_f_IvrvoiceRU",
        "female",
        "Russian",
        reference="vm-msginstruct",
    ),
    _flite_speaker("awb", "male", "Scottish English", "flite clustergen, 16 kHz"),
    _flite_speaker("rms", "male", "US English", "flite clustergen, 16 kHz"),
    _flite_speaker("slt", "female", "US English", "flite clustergen, 16 kHz"),
    _flite_speaker("kal", "male", "US English", "flite diphone, 8 kHz"),
)


def speaker_names() -> list[str]:
    return [s.name for s in SPEAKERS]


def select(names: list[str] | None) -> list[Speaker]:
    """The speakers named (case-insensitive, all when None); unknown names raise."""
    if not names:
        return list(SPEAKERS)
    by_name = {s.name.lower(): s for s in SPEAKERS}
    unknown = [n for n in names if n.lower() not in by_name]
    if unknown:
        raise ValueError(f"Unknown speakers {unknown}; known: {speaker_names()}")
    return [by_name[n.lower()] for n in names]
