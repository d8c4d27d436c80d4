"""Secrets Utter generates for itself when the operator set none.

Each lives in `DATA_DIR/keys/<name>` (mode 0600), created once with the
system's CSPRNG and reused on every later start, so tokens and signed URLs
survive restarts. Replicas that share a database must share these too: set
the corresponding setting explicitly on multi-machine deployments.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create_secret(data_dir: Path, name: str, *, nbytes: int = 48) -> str:
    """The secret called `name`, creating it on first use. Safe against concurrent creators."""
    directory = data_dir / "keys"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / name
    if path.exists():
        return path.read_text().strip()
    candidate = secrets.token_urlsafe(nbytes)
    tmp = directory / f".{name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(candidate)
    try:
        # link() fails if another process created the key first; then theirs wins.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()
