#!/usr/bin/env bash
# Everything a CUDA machine without internet needs to run the qwen engine or the GPU
# benchmark (bench/qwen_gpu.py), gathered where the package index can be reached:
#
#   bash scripts/gpu_bundle.sh [OUT]          # default OUT: dist/gpu-bundle
#
# OUT/wheels/       a wheel for every package `utter[qwen]` installs (torch and its CUDA
#                   libraries, qwen-tts, its pinned transformers, …) and Utter's own, built
#                   for this machine's platform and Python: run it on a machine of the same
#                   OS, architecture and Python version as the GPU machine
# OUT/utter.tar.gz  this checkout's committed files (bench/ and tests/support/ are not in
#                   the wheel)
#
# torch must be a CUDA build: PyPI's Linux x86_64 torch is one; where the index configured
# here serves a CPU build (a `+cpu` version), point at PyTorch's CUDA index, e.g.
#   TORCH_INDEX=https://download.pytorch.org/whl/cu128 bash scripts/gpu_bundle.sh
#
# On the GPU machine (docs/engines.md, "Qwen3-TTS on a GPU"):
#   mkdir utter && tar -xzf utter.tar.gz -C utter && cd utter
#   python3 -m venv .venv && .venv/bin/pip install --no-index --find-links ../wheels 'utter[qwen]'
#   .venv/bin/python -m bench.qwen_gpu
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:-dist/gpu-bundle}
PYTHON=${PYTHON:-.venv/bin/python}

mkdir -p "$OUT/wheels"
"$PYTHON" -m pip wheel --wheel-dir "$OUT/wheels" \
  ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} '.[qwen]'
if ls "$OUT/wheels" | grep -q '^torch-.*+cpu'; then
  echo "warning: $OUT/wheels holds a CPU-only torch; set TORCH_INDEX to a CUDA index" >&2
fi
git archive --format=tar.gz --output "$OUT/utter.tar.gz" HEAD
du -sh "$OUT/wheels" "$OUT/utter.tar.gz"
