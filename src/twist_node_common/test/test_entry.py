"""The shared entry point in real processes: help, start-up errors (exit 2), signals (exit 0), failures (exit 1)."""

import subprocess
import sys

import pytest

from twist_core.testing.entry_point import FAILURE, run_with_failing_spin

SCRIPT = """
import sys
import rclpy
from rclpy.node import Node
from twist_node_common.entry import run
from twist_node_common.parameters import SetupError

class ModelError(Exception):
    pass

def factory():
    case = sys.argv[1]
    if case in ("setup", "fatal", "bug"):
        raise {"setup": SetupError("rate must be > 0,\\n  got 0"), "fatal": ModelError("bad model"),
                 "bug": TypeError("a bug")}[case]
    return Node("fake_node")

def serve(node):
    case = sys.argv[1]
    if case == "signal":
        rclpy.shutdown()  # what rclpy's SIGINT/SIGTERM handler does while a callback runs
        raise RuntimeError("publish failed")
    if case == "error":
        raise RuntimeError("publish failed")

run(factory, "fake_node", "the help text", (ModelError,), reason="cannot load", args=sys.argv[2:], serve=serve,
    close=lambda node, ending: print("closed:", ending, flush=True))
"""


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=60)


def test_help_prints_the_text_and_starts_nothing():
    """--help and -h print the help text and exit 0 before a node exists."""
    for flag in ("--help", "-h"):
        out = _run("setup", flag)
        assert out.returncode == 0 and out.stdout.strip() == "the help text" and out.stderr == "", out


@pytest.mark.parametrize("case, traceback", [("setup", False), ("fatal", False), ("bug", True)])
def test_start_up_errors_exit_2_with_one_line(case, traceback):
    """A node that cannot start: exit 2, ``<name>: <reason>: <message>`` on one line, nothing closed; the traceback
    only for an exception of an unexpected kind."""
    out = _run(case)
    message = {"setup": "rate must be > 0, got 0", "fatal": "bad model", "bug": "a bug"}[case]
    assert out.returncode == 2, out
    assert f"fake_node: cannot load: {message}" in out.stderr.splitlines(), out.stderr
    assert ("Traceback" in out.stderr) == traceback, out.stderr
    assert "closed" not in out.stdout


@pytest.mark.parametrize("case, code, ending", [("exit", 0, "exit"), ("signal", 0, "signal"),
                                                ("error", 1, "error: publish failed")])
def test_the_end_of_a_run_is_closed_and_told_apart(case, code, ending):
    """A normal end exits 0; a failure after a signal shut the context down is the signal (exit 0, no 'failed');
    the same failure with the context alive exits 1 with 'failed' and the traceback; each closes the node once."""
    out = _run(case)
    assert out.returncode == code, out
    assert out.stdout.splitlines() == [f"closed: {ending}"], out.stdout
    assert ("fake_node: failed: publish failed" in out.stderr) == (case == "error"), out.stderr
    assert ("Traceback" in out.stderr) == (case == "error"), out.stderr


@pytest.mark.parametrize("case, code", [("signal", 0), ("error", 1)])
def test_an_executor_error_after_a_signal_is_the_signal(case, code):
    """rclpy.spin failing after a signal shut the context down is the signal (exit 0, no traceback); the same
    error with the context alive exits 1 with the traceback."""
    out = run_with_failing_spin("twist_node_common.entry", case)
    assert out.returncode == code, out.stderr
    assert (f"RuntimeError: {FAILURE}" in out.stderr) == (case == "error")
