"""Every length rule on what people type, in one place: the services check them, and
`GET /api/limits` hands them to the web app so its forms say the same thing."""

from __future__ import annotations

import re
from dataclasses import dataclass

VOICE_NAME_MAX = 100
# One limit for a voice's description wherever it is set (clone, design, rename): long
# enough for a paragraph about the speaker, short enough for a list row.
VOICE_DESCRIPTION_MAX = 1000
GENERATION_TEXT_MAX = 10_000
# A design preview is one short clip: its text and the description of the voice.
DESIGN_TEXT_MAX = 500
DESIGN_INSTRUCT_MAX = 500
DISPLAY_NAME_MAX = 100
HANDLE_PATTERN = re.compile(r"[A-Za-z0-9_]{3,30}", re.ASCII)
HANDLE_MIN = 3
HANDLE_MAX = 30
# What a person calls a personal API key ("laptop", "Home Assistant"), shown in its list.
API_KEY_NAME_MAX = 100
# The style prompt of an OpenAI speech request (`instructions`), kept with its generation.
SPEECH_INSTRUCTIONS_MAX = 4096


@dataclass(frozen=True)
class TextLimits:
    """The limits above as one value (what GET /api/limits returns)."""

    voice_name_max: int = VOICE_NAME_MAX
    voice_description_max: int = VOICE_DESCRIPTION_MAX
    generation_text_max: int = GENERATION_TEXT_MAX
    design_text_max: int = DESIGN_TEXT_MAX
    design_instruct_max: int = DESIGN_INSTRUCT_MAX
    display_name_max: int = DISPLAY_NAME_MAX
    handle_min: int = HANDLE_MIN
    handle_max: int = HANDLE_MAX
    api_key_name_max: int = API_KEY_NAME_MAX
