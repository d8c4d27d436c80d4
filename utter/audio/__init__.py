"""Audio: decode uploads by content, check them, normalise references, measure, convert.

Everything here is synchronous and CPU-bound or runs ffmpeg as a subprocess. The API
calls it in its CPU processes (`utter.cpu.CpuPool`), never on its event loop or in its
own process; workers call it from a thread.
Every refusal raises `AudioError` with a plain `message` and a `reason`.
"""

from utter.audio.convert import OUTPUT_FORMATS, OutputFormat, encode, encode_wav, transcode
from utter.audio.decode import DecodedAudio, decode
from utter.audio.errors import AudioError
from utter.audio.formats import FORMATS, REFERENCE_SAMPLE_RATE, AudioFormat, sniff
from utter.audio.measure import ReferenceReport, measure
from utter.audio.normalize import NormalizedReference, normalize_reference
from utter.audio.peaks import peaks
from utter.audio.reference import PreparedReference, prepare_reference
from utter.audio.validate import ReferenceLimits, check_duration, check_size

__all__ = [
    "FORMATS",
    "OUTPUT_FORMATS",
    "REFERENCE_SAMPLE_RATE",
    "AudioError",
    "AudioFormat",
    "DecodedAudio",
    "NormalizedReference",
    "OutputFormat",
    "PreparedReference",
    "ReferenceLimits",
    "ReferenceReport",
    "check_duration",
    "check_size",
    "decode",
    "encode",
    "encode_wav",
    "measure",
    "normalize_reference",
    "peaks",
    "prepare_reference",
    "sniff",
    "transcode",
]
