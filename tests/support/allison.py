"""Real speech no one here recorded: Debian's Allison prompts (asterisk-core-sounds-en-wav,
one speaker, 8 kHz telephone recordings), with what each says."""

from __future__ import annotations

from pathlib import Path

ALLISON = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
# What each prompt says, from the package's core-sounds-en.txt; digits avoided, so
# Whisper writing "1" for "one" cannot count as an error.
PROMPTS = {
    "agent-pass": "Please enter your password followed by the pound key.",
    "conf-waitforleader": "The conference will begin when the leader arrives.",
    "queue-youarenext": "Your call is now first in line and will be answered by the next "
    "available representative.",
    "tt-weasels": "Weasels have eaten our phone system",
    "privacy-unident": "The party you are trying to reach does not accept unidentified calls.",
    "priv-introsaved": "Thank you. Please hold, while I attempt to connect you with your party!",
    "ss-noservice": "The number you have dialed is not in service. Please check the number "
    "and try again.",
    "transfer": "Please hold while I try that extension.",
}


def prompt(name: str) -> bytes:
    """The prompt's WAV file, as uploaded."""
    path = ALLISON / f"{name}.wav"
    assert path.is_file(), "install asterisk-core-sounds-en-wav (scripts/install-test-deps.sh)"
    return path.read_bytes()
