"""TTS engines behind one protocol (`base.Engine`), and choosing one from the settings.

Each engine is imported inside its branch, so the base install never imports torch
or the Modal SDK. The API only asks the configured engine for its capabilities,
which imports its module but loads no model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from utter.engines.base import Capabilities, Engine
    from utter.settings import Settings


def create_engine(settings: Settings) -> Engine:
    """The engine `settings.engine` names (UTTER_ENGINE), ready to load on first use."""
    if settings.engine == "local":
        from utter.engines.local import LocalEngine

        return LocalEngine()
    if settings.engine == "qwen":
        from utter.engines.qwen import QwenEngine

        return QwenEngine.from_settings(settings)
    if settings.engine == "modal":
        from utter.engines.modal import ModalEngine

        return ModalEngine.from_settings(settings)
    raise ValueError(f"Unknown engine {settings.engine!r}.")


def shares_model_across_jobs(settings: Settings) -> bool:
    """Whether the configured engine runs the worker's jobs at once in one process on one
    model (`qwen`: it batches their chunks together) rather than one process each. Known
    from the name alone, so deciding loads nothing."""
    return settings.engine == "qwen"


def engine_capabilities(settings: Settings) -> Capabilities:
    """What the configured engine offers (languages, clone, design), for the API's rules.
    Cheap: engines load their models on first use, and this one is never used."""
    engine = create_engine(settings)
    try:
        return engine.capabilities()
    finally:
        engine.close()
