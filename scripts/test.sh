#!/usr/bin/env bash
# Install what the tests need and run the whole suite: ruff (lint + format), mypy, pytest
# over every tier (unit, integration, slow, browser; docs/testing.md).
#   scripts/test.sh              everything (what CI runs)
#   scripts/test.sh --lint-only  ruff and mypy only
#   scripts/test.sh -- ARGS      pass ARGS to pytest (e.g. -k voices, or -m integration)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
lint_only=0
pytest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --lint-only) lint_only=1 ;;
    --) shift; pytest_args=("$@"); break ;;
    *) pytest_args+=("$1") ;;
  esac
  shift
done

bash scripts/install-test-deps.sh

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.utter-test-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing Utter with its test dependencies into $VENV…"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e '.[dev,qwen,modal,whisper]'
  touch "$stamp"
fi
# PyPI's torchaudio (pulled by qwen-tts) is a CUDA build whose native libraries cannot load
# on a CPU-only machine; the script strips them there only, so `import qwen_tts` works.
"$VENV/bin/python" scripts/fix_torchaudio_cpu.py

echo "== ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "== mypy"
"$VENV/bin/mypy"
if [ "$lint_only" -eq 1 ]; then
  exit 0
fi
echo "== pytest"
exec "$VENV/bin/pytest" "${pytest_args[@]}"
