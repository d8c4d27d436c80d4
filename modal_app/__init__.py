"""Utter's Qwen3-TTS deployment on Modal (see README.md here). Not part of the utter package."""
