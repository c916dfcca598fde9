"""The entry point every node shares: ``--help``, start, serve until a signal, one exit-code convention.

Exit codes:

* 0: a normal end or a signal (SIGINT, SIGTERM). An exception raised after a signal has shut the context down
  (a callback publishing on the dead context, the executor taking a message or building its wait set) is the
  signal's doing and ends the same way.
* 2 (:data:`EXIT_START`): the node could not start (a bad parameter, model, file or robot; nothing was started):
  one line ``<name>: <reason>: <message>`` on stderr, plus the traceback when the exception is not one of the
  expected kinds (:class:`~twist_node_common.parameters.SetupError` and the node's ``fatal`` types).
* 1 (:data:`EXIT_FAILED`): the node failed while running: ``<name>: failed: <message>`` and the traceback.
"""

from __future__ import annotations

import sys
import traceback
from typing import Callable, TypeVar

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from twist_node_common.parameters import SetupError

EXIT_FAILED = 1
EXIT_START = 2

N = TypeVar("N", bound=Node)


def wants_help(args: list[str] | None) -> bool:
    """--help or -h on the command line (``args``, else ``sys.argv``)."""
    argv = sys.argv if args is None else args
    return "--help" in argv or "-h" in argv


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def run(node_factory: Callable[[], N], name: str, help_text: str, fatal: tuple[type[Exception], ...] = (), *,
        reason: str = "cannot start", args: list[str] | None = None, serve: Callable[[N], None] | None = None,
        close: Callable[[N, str], None] | None = None) -> None:
    """Entry point of a node: ``--help`` prints ``help_text``; else create the node and serve until shutdown.

    ``serve`` runs the node (default ``rclpy.spin``). Whatever ends the run, ``close(node, ending)`` (when given)
    runs before the node is destroyed, with ``ending`` "exit", "signal" or "error: <message>". The exit codes and
    messages are the module docstring's; ``reason`` is the start-up error's wording (default "cannot start").
    """
    if wants_help(args):
        print(help_text)
        return
    rclpy.init(args=args)
    node = None
    ending, code = "exit", 0
    try:
        try:
            node = node_factory()
        except ExternalShutdownException:
            raise
        except Exception as exc:  # noqa: BLE001 - nothing started: one line, exit code 2
            ending, code = f"error: {exc}", EXIT_START
            if not isinstance(exc, (SetupError, *fatal)):
                traceback.print_exc()
            print(f"{name}: {reason}: {_one_line(exc)}", file=sys.stderr, flush=True)
        else:
            if serve is None:
                rclpy.spin(node)
            else:
                serve(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        ending = "signal"
    except Exception as exc:  # noqa: BLE001 - report, close (leave the robot safe), exit non-zero
        if not rclpy.ok():
            # SIGINT/SIGTERM shut the context down while a callback ran or the executor took a message or built
            # its wait set (an RCLError or a pybind11 conversion error, intermittently): a clean stop
            ending = "signal"
        else:
            ending, code = f"error: {exc}", EXIT_FAILED
            print(f"{name}: failed: {_one_line(exc)}", file=sys.stderr, flush=True)
            traceback.print_exc()
    finally:
        if node is not None:
            if close is not None:
                close(node, ending)
            node.destroy_node()
        rclpy.try_shutdown()
    if code:
        sys.exit(code)
