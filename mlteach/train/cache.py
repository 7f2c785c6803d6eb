"""The run cache: a finished run is stored under a key, and asking again for the same run loads it.

A run's key hashes three things:

- its configuration (every field but ``progress``) and the hardware settings that change its
  numbers (device type, mixed precision, number of processes);
- the dataset's identity: a fingerprint of the tensors it trains and is scored on, plus the
  class names;
- the code version: a hash of the package's source files that affect training (losses, models,
  metrics, the trainer, samplers and transforms). Editing a notebook or a plot helper keeps the
  cache; editing a loss invalidates it.

A run's directory (``<runs>/<key>/``) holds ``checkpoint.pt`` (rewritten atomically after every
epoch: write a temporary file, then ``os.replace``), ``model.pt`` (the selected model's
weights) and ``result.json`` (configuration, per-epoch records, final metrics), written last: a
directory with ``result.json`` is a finished run; one with only a checkpoint is resumed.
Files load with ``torch.load(weights_only=True)``: non-tensor state is stored as plain types.

Failing loudly and recovering: a cache file that cannot be read (truncated, garbage, wrong
content) is moved aside (renamed ``<name>.corrupt-<time>``) with a warning that names it, and
the run trains again; a model file that breaks after the run was returned raises
:class:`RunCacheError` with its path and the remedy. Before a run trains, its directory is
checked to be writable (:func:`require_writable`), so a read-only cache fails at once, not
after an epoch. Temporary files left by a killed writer are removed (:func:`remove_stale_temporaries`)
and a failed write removes its own.

The runs folder is the environment variable ``MLTEACH_RUNS`` if set, else ``<repository>/runs``
(git-ignored).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import time
import warnings
import zipfile
from pathlib import Path

import torch

from ..data.splits import MultiLabelData

__all__ = ["runs_folder", "code_version", "data_fingerprint", "tensor_fingerprint", "hash_key",
           "save_atomic", "load_state", "write_json_atomic", "read_json", "RunCacheError",
           "CorruptCacheFile", "move_aside", "require_writable", "remove_stale_temporaries"]

#: What ``torch.load`` raises on a truncated or garbage file (and ``weights_only`` on foreign content).
UNREADABLE = (EOFError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, KeyError,
              TypeError, AttributeError, IndexError, OSError)


class RunCacheError(RuntimeError):
    """A run-cache file or folder that cannot be used; the message names it and the remedy."""

    def __init__(self, path: Path, problem: str, remedy: str) -> None:
        super().__init__(f"{path}: {problem}. {remedy}")
        self.path, self.problem, self.remedy = path, problem, remedy


class CorruptCacheFile(RunCacheError):
    """A cache file exists but cannot be read back."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(path, f"the run cache file cannot be read ({problem})",
                         "Delete this file and run again: what it held is computed anew.")

PACKAGE_ROOT = Path(__file__).resolve().parents[1]

#: Source files (relative to the package) whose edits change training results.
TRAINING_SOURCES = ("models.py", "metrics.py", "losses/*.py", "train/*.py",
                    "data/samplers.py", "data/transforms.py")
#: Files under ``train/`` that do not change results.
NOT_TRAINING_SOURCES = ("train/plots.py", "train/parallel.py")


def runs_folder(runs_dir: str | os.PathLike | None = None) -> Path:
    """``runs_dir`` if given, else ``$MLTEACH_RUNS``, else ``<repository>/runs``."""
    if runs_dir is not None:
        return Path(runs_dir)
    return Path(os.environ.get("MLTEACH_RUNS", PACKAGE_ROOT.parent / "runs"))


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of the source files listed in :data:`TRAINING_SOURCES` (names and contents)."""
    digest = hashlib.sha256()
    paths = sorted({path for pattern in TRAINING_SOURCES for path in PACKAGE_ROOT.glob(pattern)})
    for path in paths:
        relative = path.relative_to(PACKAGE_ROOT).as_posix()
        if relative in NOT_TRAINING_SOURCES:
            continue
        digest.update(relative.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def tensor_fingerprint(tensor: torch.Tensor, digest=None) -> str:
    """Hash of a tensor's dtype, shape and values."""
    digest = digest or hashlib.sha256()
    tensor = tensor.detach().cpu().contiguous()
    digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
    digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:16]


def data_fingerprint(data: MultiLabelData) -> str:
    """Identity of a dataset: its splits' inputs, observed and true targets, and class names."""
    digest = hashlib.sha256(json.dumps(list(data.class_names)).encode())
    for split in (data.train, data.val, data.test):
        for tensor in (split.inputs, split.targets, split.true_targets):
            tensor_fingerprint(tensor, digest)
    return digest.hexdigest()[:16]


def hash_key(payload: dict) -> str:
    """Short stable hash of a JSON-serialisable dict."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _replace_atomically(path: Path, write) -> None:
    """``write(temporary)`` then rename the temporary over ``path``: a reader (or a run killed
    mid-write) sees either the old file or the new one, never half. A failed write removes its
    temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _describe(error: BaseException) -> str:
    """The error's type and the first line of its message (torch's run to paragraphs)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:160]}" if lines else f"{type(error).__name__}: empty or truncated"


def save_atomic(state: dict, path: Path) -> None:
    """``torch.save`` ``state`` to ``path`` atomically."""
    _replace_atomically(path, lambda temporary: torch.save(state, temporary))


def load_state(path: Path) -> dict | None:
    """A file written by :func:`save_atomic`, on the CPU; None if there is none;
    :class:`CorruptCacheFile` (naming the file) if it cannot be read."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except UNREADABLE as error:
        raise CorruptCacheFile(path, _describe(error)) from None
    if not isinstance(state, dict):
        raise CorruptCacheFile(path, f"it holds a {type(state).__name__}, not a dict")
    return state


def write_json_atomic(payload: dict, path: Path) -> None:
    _replace_atomically(path, lambda temporary: temporary.write_text(json.dumps(payload, indent=1, default=str)))


def read_json(path: Path) -> dict | None:
    """The JSON object stored at ``path``; None if there is none; :class:`CorruptCacheFile` if
    it is not a readable JSON object."""
    if not path.exists():
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise CorruptCacheFile(path, _describe(error)) from None
    if not isinstance(payload, dict):
        raise CorruptCacheFile(path, f"it holds a JSON {type(payload).__name__}, not an object")
    return payload


def move_aside(paths: list[Path], problem: str) -> list[Path]:
    """Rename unusable cache files to ``<name>.corrupt-<time>`` (kept for inspection) and warn
    once, naming them and their new names; returns the new paths."""
    stamp = f"corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    moved = []
    for path in paths:
        moved.append(path.with_name(f"{path.name}.{stamp}"))
        os.replace(path, moved[-1])
    names = ", ".join(f"{path.name} to {aside.name}" for path, aside in zip(paths, moved))
    warnings.warn(f"{paths[0]}: {problem}; moved {names}, and the run trains again", stacklevel=3)
    return moved


def require_writable(folder: Path) -> None:
    """Create ``folder`` and write a file in it, or raise :class:`RunCacheError` naming it: run
    before training, so a read-only cache fails before any work is done."""
    probe = folder / f".write-check.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise RunCacheError(folder, f"the run cache cannot be written ({error.strerror or error})",
                            "Make the folder writable, or point the environment variable MLTEACH_RUNS "
                            "(or the runs_dir argument) to a writable folder.") from None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove ``.<name>.<pid>.tmp`` files whose writer is no longer running (a killed run);
    a live writer's file is left alone. Returns the removed paths."""
    removed = []
    for temporary in folder.glob(".*.tmp") if folder.is_dir() else ():
        pid = temporary.name.rsplit(".", 2)[-2]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            temporary.unlink(missing_ok=True)
            removed.append(temporary)
    return removed
