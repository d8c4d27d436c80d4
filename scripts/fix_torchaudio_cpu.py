"""Make the PyPI torchaudio importable on a machine without CUDA.

`qwen-tts` depends on torchaudio, and the newest torchaudio on PyPI (2.11) ships only a
CUDA build: on a CPU-only torch its native libraries fail to load (`libc10_cuda.so: cannot
open shared object file`), so `import torchaudio` — and with it `import qwen_tts` — fails.
qwen-tts only uses torchaudio's pure-Python `compliance.kaldi` (the speaker encoder's fbank),
and torchaudio imports as pure Python when its `lib/*.so` files are absent. So, only when
torch has no CUDA and torchaudio's native libraries cannot load, this removes them.
It never touches a CUDA machine, and does nothing when torchaudio imports or is not installed.

Run with the virtual environment's Python: `.venv/bin/python scripts/fix_torchaudio_cpu.py`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def main() -> int:
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or spec.origin is None:
        return 0
    import torch

    if torch.version.cuda is not None or torch.cuda.is_available():
        return 0
    try:
        import torchaudio  # noqa: F401
    except OSError as error:
        libs = sorted((Path(spec.origin).parent / "lib").glob("*.so"))
        for lib in libs:
            lib.unlink()
        names = ", ".join(lib.name for lib in libs)
        print(f"torchaudio: CUDA-only native libraries could not load ({error}); removed {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
