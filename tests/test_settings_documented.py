"""Every setting is documented in the README's settings table, and has a description."""

from __future__ import annotations

from pathlib import Path

from utter.settings import Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    missing = [
        f"UTTER_{name.upper()}"
        for name in Settings.model_fields
        if f"UTTER_{name.upper()}" not in README
    ]
    assert missing == [], f"settings missing from README.md: {missing}"


def test_every_setting_has_a_description() -> None:
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []
