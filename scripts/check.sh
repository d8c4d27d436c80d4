#!/usr/bin/env bash
# The quick loop while developing: ruff (lint + format), mypy and the fast test tier
# (`pytest -m unit`: no database, no server), in under two minutes on two cores.
# `make test` runs everything (docs/testing.md).
#   scripts/check.sh              all of it
#   scripts/check.sh -- ARGS      pass ARGS to pytest (e.g. -k forms)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
pytest_args=()
if [ "${1:-}" = "--" ]; then
  shift
  pytest_args=("$@")
fi

if [ ! -x "$VENV/bin/pytest" ] || [ ! -x "$VENV/bin/mypy" ]; then
  echo "No test environment in $VENV yet: run \`make test\` once, it installs one." >&2
  exit 1
fi

echo "== ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "== mypy"
"$VENV/bin/mypy"
echo "== pytest -m unit"
# Exactly `-m unit`: tests/conftest.py then skips importing the modules with no fast test.
exec "$VENV/bin/pytest" -m unit -q "${pytest_args[@]}"
