"""Language names as the API speaks them, and their ISO 639-1 codes.

The API names languages in English ("English", "Japanese", …), as its clients
have always sent them; "Auto" means "let the engine decide". Which languages are offered is up
to the configured engine (`Engine.capabilities().languages`), never this list.
"""

from __future__ import annotations

AUTO = "Auto"

# Every language any Utter engine or transcriber may support, in the order the language
# menus have always shown them.
CODES: dict[str, str] = {
    "English": "en",
    "Chinese": "zh",
    "Japanese": "ja",
    "Korean": "ko",
    "French": "fr",
    "German": "de",
    "Spanish": "es",
    "Italian": "it",
    "Portuguese": "pt",
    "Russian": "ru",
    "Arabic": "ar",
    "Hindi": "hi",
    "Dutch": "nl",
    "Turkish": "tr",
}


def code_for(language: str) -> str | None:
    """The ISO code for an API language name; None for Auto or an unknown name."""
    return CODES.get(language)
