"""The three test tiers (docs/testing.md), decided here for every collected test.

- `unit`: the fast tier. Rules tested in the process: no database, no server, no worker
  (ffmpeg and Piper's bundled voice only make test clips); each test well under a second.
  `make check` runs it.
- `integration`: the real parts together: Postgres with the migrations, the app, a worker.
- `slow` / `browser`: marked in their modules; seconds to minutes each, or Chromium.

A test is `unit` when it lives in tests/unit/ or in one of FAST_MODULES (existing modules
that never needed a database); every other test that is not `slow` or `browser` is
`integration`. The markers are given here rather than in each module so that moving a module
between tiers is one line, and so that a unit test that asks for the database fails loudly
instead of quietly starting Postgres in the fast loop.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent

# Relative to tests/: directories (every module in them) or single modules.
FAST_MODULES: tuple[str, ...] = (
    "unit",
    "audio",
    "engines/test_design_mapping.py",
    "engines/test_text_and_join.py",
    "storage/test_sniff.py",
    "transcription/test_factory.py",
    "transcription/test_wer.py",
    "test_keys.py",
    "test_settings_documented.py",
    "test_api_documented.py",
)

# What starts Postgres, a server or the CPU processes: never for a unit test.
HEAVY_FIXTURES = frozenset(
    {"pg_server_url", "database_url", "db", "cpu", "app", "client", "live_server"}
)


def _fast_paths() -> list[Path]:
    return [TESTS / entry for entry in FAST_MODULES]


def in_the_fast_tier(path: Path) -> bool:
    path = path.resolve()
    return any(path == fast or fast in path.parents for fast in _fast_paths())


def outside_the_fast_tier(path: Path) -> bool:
    """Whether `path` (a test module or a directory) holds no fast test at all."""
    path = path.resolve()
    if path.is_dir():
        return not any(path == fast or path in fast.parents for fast in _fast_paths())
    if not (path.name.startswith("test_") and path.suffix == ".py"):
        return False
    return not in_the_fast_tier(path)


def apply_tiers(items: list[pytest.Item]) -> None:
    """Mark each item `unit` or `integration` (slow and browser tests keep their marks)."""
    for item in items:
        if in_the_fast_tier(item.path):
            heavy = HEAVY_FIXTURES.intersection(getattr(item, "fixturenames", ()))
            if heavy:
                raise pytest.UsageError(
                    f"{item.nodeid} is in the fast tier but uses {sorted(heavy)}: move it"
                    " out of tests/unit/ (or FAST_MODULES in tests/support/tiers.py)"
                )
            item.add_marker(pytest.mark.unit)
        elif not any(item.iter_markers("slow")) and not any(item.iter_markers("browser")):
            item.add_marker(pytest.mark.integration)
