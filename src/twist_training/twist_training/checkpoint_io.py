"""Checkpoints that survive a crash, a NaN and a crafted file: the one way every trainer saves and loads them.

- :func:`save_atomic`: the state goes to a temporary file beside the target, is flushed to disk (fsync), then
  renamed over the target (and the directory fsynced): a crash or a full disk mid-write leaves the previous
  checkpoint whole, never a truncated one.
- :func:`load`: ``torch.load(weights_only=True)``: tensors, plain containers, numbers and strings only; a checkpoint
  cannot run code when it is read. Any failure is a :class:`CheckpointError` naming the file.
- :func:`newest_readable`: the newest of some checkpoints that loads (resume falls back past a corrupt one).
- :func:`check_finite`: a loss (or any scalars) that is NaN/Inf raises :class:`NonFiniteTraining` before it is
  saved, so the run stops with the last good checkpoint on disk.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch


class CheckpointError(ValueError):
    """A checkpoint that cannot be read (missing, truncated, not a checkpoint, or holding code)."""


class NonFiniteTraining(RuntimeError):
    """Training produced a NaN/Inf (loss or data); nothing of it was saved."""


def save_atomic(state: Any, path: str | os.PathLike) -> Path:
    """Write ``state`` with ``torch.save`` to ``path`` atomically (temporary file, fsync, rename); returns the path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself reaches the disk
    finally:
        os.close(directory)
    return path


def load(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """The checkpoint at ``path``, read by torch's weights-only unpickler; :class:`CheckpointError` if it cannot be."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever a bad file raises (OSError, EOFError, UnpicklingError, ...)
        reason = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"cannot read checkpoint {path}: {type(exc).__name__}: {reason}") from exc


def newest_readable(paths: Iterable[Path], read: Callable[[Path], Any] = load,
                    quiet: bool = False) -> tuple[Path, Any] | None:
    """The newest of ``paths`` (given oldest first) that ``read`` accepts, with what it read; None if none does.

    Unless ``quiet``, each one skipped is reported on stderr with the reason (``read`` raises CheckpointError, or a
    ValueError such as a trainer's configuration error).
    """
    for path in reversed(list(paths)):
        try:
            return path, read(path)
        except ValueError as exc:
            if not quiet:
                print(f"skipping {path}: {exc}", file=sys.stderr, flush=True)
    return None


def check_finite(values: Mapping[str, Any], where: str) -> None:
    """Raise :class:`NonFiniteTraining` naming every value of ``values`` that is NaN/Inf (numbers or tensors)."""
    bad = {}
    for key, value in values.items():
        number = float(value.detach().float().sum()) if isinstance(value, torch.Tensor) else float(value)
        if not math.isfinite(number):
            bad[key] = number
    if bad:
        raise NonFiniteTraining(f"{where}: non-finite {', '.join(f'{k} = {v}' for k, v in bad.items())}")
