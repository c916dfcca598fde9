"""Small rclpy helpers of the policy node: a parameter table, the --help text and the entry point.

The same conventions as ``cmg_node.node_common`` (parameters declared from a ``name -> (default, description)``
table, ``--help`` printing it, exit code 2 with a one-line reason when the node cannot start), kept here so that
the policy node does not depend on the reference publishers' package.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node


class SetupError(ValueError):
    """A parameter that keeps the node from starting; the message says why."""


def declare_table(node: Node, table: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    """Declare every parameter of ``table`` with its description; return their values."""
    from rcl_interfaces.msg import ParameterDescriptor

    for name, (default, description) in table.items():
        node.declare_parameter(name, default, ParameterDescriptor(description=description))
    return {name: node.get_parameter(name).value for name in table}


def usage(doc: str, command: str, table: dict[str, tuple[Any, str]]) -> str:
    """The --help text: ``doc``, a usage line and the parameter table."""
    lines = [doc, f"Usage: {command}", "", "Parameters:"]
    lines += [f"  {name:<20} {default!r:<8} {text}" for name, (default, text) in table.items()]
    return "\n".join(lines)


def run(node_factory: Callable[[], Node], name: str, help_text: str, fatal: tuple[type[Exception], ...],
        args: list[str] | None = None) -> None:
    """Spin the node; ``--help`` prints ``help_text``; a ``fatal`` error at start exits with code 2.

    The error goes to stderr as one line: ``<name>: cannot start: <message>``. An exception raised after a signal
    has shut the context down counts as the signal (exit 0).
    """
    argv = sys.argv if args is None else args
    if "--help" in argv or "-h" in argv:
        print(help_text)
        return
    rclpy.init(args=args)
    node = None
    try:
        node = node_factory()
        rclpy.spin(node)
    except (SetupError, *fatal) as exc:
        print(f"{name}: cannot start: {' '.join(str(exc).split())}", file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if node is None or rclpy.ok():
            raise
        # SIGINT/SIGTERM shut the context down while the executor took a message or built its wait set (an
        # RCLError or a pybind11 conversion error, intermittently): the signal's doing, a clean stop
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
