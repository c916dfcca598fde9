"""Velocity commands on a command line: ``vx,vy,yaw_rate`` triples, backwards ones (``-0.5,0,0``) included.

argparse takes an argument starting with ``-`` for an option; :func:`protect_negative_commands` prefixes such
triples with a space (no option to argparse, still a number to ``float``), :func:`parse_command` is the
argument type. Used by the benchmark and probe scripts.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

#: A command triple starting with "-" (backwards), which argparse would take for an option.
NEGATIVE_COMMAND = re.compile(r"^-[0-9.]+(e-?[0-9]+)?,")


def parse_command(text: str) -> tuple[float, float, float]:
    """``'vx,vy,wz'`` -> three floats; anything else is an ``argparse.ArgumentTypeError`` naming the text."""
    try:
        vx, vy, wz = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a command is vx,vy,yaw_rate (three numbers), not {text!r}") from None
    return vx, vy, wz


def protect_negative_commands(argv: Sequence[str]) -> list[str]:
    """``argv`` with each backwards command triple prefixed by a space, so argparse reads it as a value."""
    return [" " + a if NEGATIVE_COMMAND.match(a) else a for a in argv]
