"""Model downloads: one repo of the Hugging Face hub into DATA_DIR/models/<name>.

Only `utter models pull` calls this; nothing is downloaded while serving. huggingface_hub
does the transfer: `HF_ENDPOINT` (a mirror) and `HF_TOKEN` are honoured, each file shows a
progress bar, and a file cut off half-way is resumed by the next pull (its bytes wait in
`<name>.partial/.cache/huggingface/download/`).

The repo lands in `<name>.partial` and is renamed to `<name>` only once every file is in
and `check` accepts what came, so whoever looks for a pulled model (which only ever reads
`<name>`) never takes a half download for a whole one. Pulling again fetches nothing when
`<name>` already holds the hub's current revision (recorded in its `.pulled.json`);
otherwise the repo comes anew into `<name>.partial` and is swapped in when complete, the
model already there staying usable until then, and as it was if that pull fails. A repo
that would not fit on the disk (by the sizes the hub lists) is refused before anything
is fetched.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from utter.errors import Failed

if TYPE_CHECKING:
    from huggingface_hub.hf_api import RepoSibling

# In a pulled directory: the repo and the revision (commit) it holds.
PULLED_FILE = ".pulled.json"
# An error's text can span lines (request ids, URLs); the message stays one line, this long.
_MAX_DETAIL = 400


class PullError(Failed):
    """A pull that did not leave a model: one line saying why, for the operator."""


def models_dir(data_dir: Path) -> Path:
    return data_dir / "models"


def partial_dir(target: Path) -> Path:
    """Where a pull of `target` downloads until it is complete."""
    return target.with_name(target.name + ".partial")


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _check_space(repo: str, partial: Path, wanted: Sequence[RepoSibling]) -> None:
    """Refuse before downloading when the files still to come (by the hub's listed sizes)
    would not fit; huggingface_hub itself only warns, and a full disk half-way through a
    few gigabytes helps nobody."""
    needed = sum(
        sibling.size or 0 for sibling in wanted if not (partial / sibling.rfilename).is_file()
    )
    where = partial
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free
    if needed > free:
        raise PullError(
            f"Not enough disk space for {repo} in {where}: it needs {needed / 1e9:.1f} GB, "
            f"{free / 1e9:.1f} GB are free."
        )


def _pulled_revision(target: Path) -> dict[str, str] | None:
    try:
        found = json.loads((target / PULLED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def pull_repo(
    repo: str,
    target: Path,
    *,
    allow_patterns: Sequence[str] | None = None,
    ignore_patterns: Sequence[str] | None = None,
    check: Callable[[Path], str | None] | None = None,
) -> Path:
    """Download `repo` (its main revision; the files the patterns select) into `target`.
    `check(directory)` returns what is wrong with a complete download (a phrase that
    follows the repo's name), or None. Raises PullError, leaving no `target` behind
    when there was none (and the partial download, for the next pull to resume)."""
    try:
        from huggingface_hub import HfApi, constants, snapshot_download

        # The very filter snapshot_download applies (re-exported, though not in __all__).
        from huggingface_hub.utils import filter_repo_objects  # type: ignore[attr-defined]
    except ImportError as error:
        # It comes with the extras that use the models (transformers, faster-whisper).
        raise PullError(
            "Pulling models needs huggingface_hub: pip install -e '.[qwen]' or "
            "'.[whisper]' (or huggingface_hub alone on a machine that only fetches)."
        ) from error

    partial = partial_dir(target)
    allow = list(allow_patterns) if allow_patterns is not None else None
    ignore = list(ignore_patterns) if ignore_patterns is not None else None

    def failed(error: Exception) -> PullError:
        return PullError(
            f"Could not fetch {repo} from {constants.ENDPOINT}: "
            f"{type(error).__name__}: {_one_line(error)}"
        )

    try:
        # The listing first: snapshot_download alone, when the hub cannot be reached,
        # returns whatever an earlier pull left in `partial` as if it were complete.
        info = HfApi().model_info(repo, revision="main", files_metadata=True)
    except Exception as error:  # the hub client's errors (and OSError's) share no base
        raise failed(error) from error
    if _pulled_revision(target) == {"repo": repo, "revision": info.sha}:
        return target  # already this revision, whole: nothing to fetch
    wanted = list(
        filter_repo_objects(
            info.siblings or [],
            allow_patterns=allow,
            ignore_patterns=ignore,
            key=lambda sibling: sibling.rfilename,
        )
    )
    _check_space(repo, partial, wanted)
    try:
        snapshot_download(
            repo, revision=info.sha, local_dir=partial, allow_patterns=allow, ignore_patterns=ignore
        )
    except Exception as error:
        raise failed(error) from error
    missing = [
        sibling.rfilename for sibling in wanted if not (partial / sibling.rfilename).is_file()
    ]
    if missing:
        raise PullError(
            f"Could not fetch all of {repo} from {constants.ENDPOINT}: {len(missing)} files "
            f"missing ({missing[0]}, …); pull again to resume."
        )
    problem = check(partial) if check is not None else None
    if problem is not None:
        raise PullError(f"{repo} {problem}")
    try:
        # Moved into place with the files, so it vouches for a whole download.
        (partial / PULLED_FILE).write_text(json.dumps({"repo": repo, "revision": info.sha}))
        if target.exists():
            shutil.rmtree(target)
        partial.rename(target)
    except OSError as error:
        raise PullError(f"Could not put {repo} in place at {target}: {_one_line(error)}") from error
    return target
