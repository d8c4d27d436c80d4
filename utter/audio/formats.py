"""The audio formats Utter accepts, and recognising a file by its first bytes.

`sniff` looks only at magic numbers, so it is cheap enough to run on the first
chunk of a streaming upload; `decode` (which runs ffmpeg) is the real check.
"""

from __future__ import annotations

from dataclasses import dataclass

# The sample rate Utter stores references (and engines produce speech) at.
REFERENCE_SAMPLE_RATE = 24_000

# How many leading bytes `sniff` needs to decide.
SNIFF_BYTES = 64


@dataclass(frozen=True)
class AudioFormat:
    name: str  # short name, also the file extension we store it under
    content_type: str
    label: str  # how a person calls it


FORMATS: dict[str, AudioFormat] = {
    f.name: f
    for f in (
        AudioFormat("wav", "audio/wav", "WAV"),
        AudioFormat("mp3", "audio/mpeg", "MP3"),
        AudioFormat("m4a", "audio/mp4", "M4A"),
        AudioFormat("aac", "audio/aac", "AAC"),
        AudioFormat("ogg", "audio/ogg", "OGG"),
        AudioFormat("webm", "audio/webm", "WebM"),
        AudioFormat("flac", "audio/flac", "FLAC"),
    )
}

ACCEPTED_LABELS = "WAV, MP3, M4A, AAC, OGG, WebM or FLAC"

# ffmpeg's demuxer names (as printed after "Input #0,") for each of our formats.
_BY_DEMUXER = {
    "wav": "wav",
    "mp3": "mp3",
    "mov,mp4,m4a,3gp,3g2,mj2": "m4a",
    "aac": "aac",
    "ogg": "ogg",
    "matroska,webm": "webm",
    "flac": "flac",
}


def format_for_demuxer(demuxer: str) -> AudioFormat | None:
    name = _BY_DEMUXER.get(demuxer)
    return FORMATS[name] if name else None


def _is_mpeg_audio_sync(head: bytes, layer_bits: set[int]) -> bool:
    if len(head) < 2 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    return (head[1] >> 1) & 0x03 in layer_bits


def sniff(head: bytes) -> AudioFormat | None:
    """The accepted format these leading bytes announce, or None.

    Looks at magic numbers only: a file that sniffs as audio may still be corrupt.
    """
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return FORMATS["wav"]
    if head.startswith(b"ID3"):
        # An ID3v2 tag is written before MP3 (and, rarely, FLAC or AAC) data.
        return FORMATS["mp3"]
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return FORMATS["m4a"]
    if head.startswith(b"OggS"):
        return FORMATS["ogg"]
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return FORMATS["webm"]
    if head.startswith(b"fLaC"):
        return FORMATS["flac"]
    if _is_mpeg_audio_sync(head, {0b01, 0b10, 0b11}):  # MPEG layer III, II or I
        return FORMATS["mp3"]
    if _is_mpeg_audio_sync(head, {0b00}):  # ADTS: same sync word, layer 0
        return FORMATS["aac"]
    return None


_NOT_AUDIO_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive or office document"),
    (b"\x1f\x8b", "a gzip archive"),
)


def describe_non_audio(head: bytes) -> str | None:
    """A few words naming what a non-audio file looks like ("a PNG image"), if we can tell."""
    for magic, description in _NOT_AUDIO_MAGIC:
        if head.startswith(magic):
            return description
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    sample = head[:512]
    if sample and not any(byte < 0x09 or 0x0D < byte < 0x20 for byte in sample):
        try:
            sample.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is still text.
            if exc.start < len(sample) - 3:
                return None
        return "a text file"
    return None
