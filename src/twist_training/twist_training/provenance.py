"""Where an exported model came from."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_commit() -> str:
    """The workspace's git commit (with ``-dirty``), or ``unknown``."""
    try:
        root = Path(__file__).resolve().parent
        commit = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], cwd=root,
                                capture_output=True, text=True, check=True).stdout.strip()
        return commit or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
