"""Run a node's entry point in a subprocess with an executor that fails, after a signal or without one."""

from __future__ import annotations

import subprocess
import sys

FAILURE = "failed to initialize wait set"

_SCRIPT = """
import sys
import rclpy
from rclpy.node import Node
from {module} import run

def spin(node):
    if sys.argv[1] == "signal":
        rclpy.shutdown()  # what rclpy's SIGINT/SIGTERM handler does while the executor waits or takes
    raise RuntimeError({failure!r})

rclpy.spin = spin
run(lambda: Node("fake_node"), "fake_node", "usage", (){keywords}, args=[])
"""


def run_with_failing_spin(module: str, case: str, **run_kwargs: object) -> subprocess.CompletedProcess:
    """Call ``<module>.run`` with a node whose spin raises ``RuntimeError(FAILURE)``.

    ``case`` "signal" shuts the context down first (what a SIGINT does while the executor takes a message or
    builds its wait set); "error" leaves it alive. ``run_kwargs`` are ``run``'s further parameters (their values
    written with ``repr``). Returns the finished process.
    """
    keywords = "".join(f", {name}={value!r}" for name, value in run_kwargs.items())
    script = _SCRIPT.format(module=module, failure=FAILURE, keywords=keywords)
    return subprocess.run([sys.executable, "-c", script, case], capture_output=True, text=True, timeout=60)
