"""Spotting files that were cut short, where ffmpeg itself stays silent.

ffmpeg reports most damage (`decode` turns its errors into "corrupt"), but three
common cases decode "successfully" into a shorter clip:

- a WAV whose header promises more sample data than the file holds (ffmpeg
  quietly re-estimates the duration from the file size);
- an Ogg (Opus or Vorbis) file cut mid-page (the partial page is dropped);
- an MP3 without a Xing/Info header cut mid-frame (the partial frame is dropped).

Each check below walks the container's own framing and answers True only when the
last unit is provably incomplete; anything it cannot follow is left to ffmpeg.
"""

from __future__ import annotations

import struct

from utter.audio.formats import AudioFormat


def is_truncated(data: bytes, fmt: AudioFormat) -> bool:
    """True when `data` is a `fmt` file provably cut short."""
    if fmt.name == "wav":
        return _wav_truncated(data)
    if fmt.name == "ogg":
        return _ogg_truncated(data)
    if fmt.name == "mp3":
        return _mp3_truncated(data)
    return False


# WAV ------------------------------------------------------------------------------

# Streaming writers (ffmpeg to a pipe, some recorders) cannot go back to fill in the
# data size and leave one of these placeholders; such files are not truncated.
_UNKNOWN_WAV_SIZES = (0, 0xFFFFFFFF)


def _wav_truncated(data: bytes) -> bool:
    if data[:4] != b"RIFF":
        return False  # RF64/BW64 keep real sizes elsewhere; ffmpeg handles them
    position = 12
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        size: int = struct.unpack_from("<I", data, position + 4)[0]
        body = position + 8
        if chunk_id == b"data":
            if size in _UNKNOWN_WAV_SIZES:
                return False
            return body + size > len(data)
        position = body + size + (size & 1)  # chunks are padded to even sizes
    # No data chunk at all: the header itself is cut short (ffmpeg will also fail).
    return True


# Ogg ------------------------------------------------------------------------------

_OGG_HEADER = 27  # fixed part of a page header, before the segment table


def _ogg_truncated(data: bytes) -> bool:
    position = 0
    while position < len(data):
        if data[position : position + 4] != b"OggS":
            return False  # trailing bytes we cannot follow; not our call
        if position + _OGG_HEADER > len(data):
            return True
        segments = data[position + 26]
        table_end = position + _OGG_HEADER + segments
        if table_end > len(data):
            return True
        position = table_end + sum(data[position + _OGG_HEADER : table_end])
    return position > len(data)


# MP3 ------------------------------------------------------------------------------

# Bitrates in kbit/s by [MPEG-1?][layer 1..3][index]; index 0 is "free format".
_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame_length(header: bytes) -> int | None:
    """Length in bytes of the MPEG audio frame starting with `header`, or None if invalid."""
    if header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = (header[1] >> 3) & 0x03  # 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
    layer = 4 - ((header[1] >> 1) & 0x03)  # bits 11/10/01 = layer I/II/III
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 0x03
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return None  # reserved values, or free format (whose length we cannot know)
    mpeg1 = version == 3
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    sample_rate = _SAMPLE_RATES[version][rate_index]
    padding = (header[2] >> 1) & 0x01
    if layer == 1:
        return (12 * bitrate // sample_rate + padding) * 4
    if layer == 3 and not mpeg1:
        return 72 * bitrate // sample_rate + padding
    return 144 * bitrate // sample_rate + padding


def _mp3_audio_end(data: bytes) -> int:
    """Where the frames end: before a trailing ID3v1 tag and APEv2 tag, if present."""
    end = len(data)
    if end >= 128 and data[end - 128 : end - 125] == b"TAG":
        end -= 128
    if end >= 32 and data[end - 32 : end - 24] == b"APETAGEX":
        (size,) = struct.unpack_from("<I", data, end - 20)
        (flags,) = struct.unpack_from("<I", data, end - 12)
        has_header = bool(flags & 0x80000000)
        end -= size + (32 if has_header else 0)
    return max(end, 0)


def _mp3_truncated(data: bytes) -> bool:
    position = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        # ID3v2: a 10-byte header, then a "syncsafe" size (7 bits per byte).
        size = 0
        for byte in data[6:10]:
            size = (size << 7) | (byte & 0x7F)
        footer = 10 if data[5] & 0x10 else 0
        position = 10 + size + footer
    end = _mp3_audio_end(data)
    frames = 0
    while position + 4 <= end:
        length = _mp3_frame_length(data[position : position + 4])
        if length is None:
            return False  # lost the frame chain (junk, free format): leave it to ffmpeg
        if position + length > end:
            return True
        position += length
        frames += 1
    # One to three bytes after the last whole frame, starting like a frame: a header cut in two.
    return frames > 0 and 0 < end - position < 4 and data[position] == 0xFF
