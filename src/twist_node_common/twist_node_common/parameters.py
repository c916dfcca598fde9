"""Parameter tables: ``name -> (default, description)``, declared on a node and printed by ``--help``."""

from __future__ import annotations

from typing import Any

from rclpy.node import Node

#: A node's parameters: name -> (default, description).
ParameterTable = dict[str, tuple[Any, str]]

#: The widest default column of the --help table; longer defaults push their description to the right.
_DEFAULT_WIDTH = 12


class SetupError(ValueError):
    """A parameter or input that keeps a node from starting; the message says why (exit code 2)."""


def descriptor(description: str):
    """rcl_interfaces/ParameterDescriptor with ``description``."""
    from rcl_interfaces.msg import ParameterDescriptor

    return ParameterDescriptor(description=description)


def declare_table(node: Node, table: ParameterTable) -> dict[str, Any]:
    """Declare every parameter of ``table`` on ``node`` with its description; return their values by name."""
    for name, (default, description) in table.items():
        node.declare_parameter(name, default, descriptor(description))
    return {name: node.get_parameter(name).value for name in table}


def usage(doc: str, command: str, table: ParameterTable) -> str:
    """The --help text: ``doc`` (the node's module docstring), a usage line and the parameter table."""
    name_width = max((len(name) for name in table), default=0)
    default_width = min(max((len(repr(default)) for default, _ in table.values()), default=0), _DEFAULT_WIDTH)
    lines = [doc, f"Usage: {command}", "", "Parameters:"]
    lines += [f"  {name:<{name_width}}  {default!r:<{default_width}}  {text}"
              for name, (default, text) in table.items()]
    return "\n".join(lines)
