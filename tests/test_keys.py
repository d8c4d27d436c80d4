"""Generated secrets are created once, private, and reused."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from utter.keys import load_or_create_secret


def test_secret_is_created_once_with_private_mode_and_reused(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path, "jwt")
    assert len(first) >= 48
    assert load_or_create_secret(tmp_path, "jwt") == first
    mode = stat.S_IMODE((tmp_path / "keys" / "jwt").stat().st_mode)
    assert mode == 0o600
    assert load_or_create_secret(tmp_path, "other") != first


def test_concurrent_creators_agree_on_one_secret(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        values = set(pool.map(lambda _: load_or_create_secret(tmp_path, "race"), range(16)))
    assert len(values) == 1
    assert not [p for p in (tmp_path / "keys").iterdir() if p.name.startswith(".")]
