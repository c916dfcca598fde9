"""A command in a pseudo-terminal, for the tests of interactive commands (teleop-keyboard)."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path
from typing import Sequence


class Terminal:
    """A command in a pseudo-terminal, its output drained so that it never blocks writing."""

    def __init__(self, command: Sequence[str | Path]) -> None:
        """Start ``command`` (the executable and its arguments)."""
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen([str(word) for word in command], stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        os.set_blocking(self.master, False)
        self.output = b""

    def drain(self) -> None:
        """Read what it wrote so far."""
        try:
            self.output += os.read(self.master, 4096)
        except OSError:  # nothing to read (non-blocking), or it exited
            pass

    def type(self, keys: bytes) -> None:
        """Type ``keys``."""
        os.write(self.master, keys)

    def close(self) -> None:
        """Kill it if it still runs, close the terminal."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
