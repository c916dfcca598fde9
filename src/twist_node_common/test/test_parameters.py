"""Parameter tables on a real node, and their --help text."""

import rclpy
from rclpy.parameter import Parameter

from twist_node_common.parameters import declare_table, usage

TABLE = {"rate": (50.0, "ticks per second"), "model_file": ("", "the model"), "future_frames": (0, "frames")}


def test_declare_table_declares_descriptions_and_returns_the_values():
    """Every parameter is declared with its description; overrides win over the defaults."""
    rclpy.init(args=[])
    try:
        node = rclpy.create_node("table_test", parameter_overrides=[Parameter("rate", value=25.0)])
        values = declare_table(node, TABLE)
        assert values == {"rate": 25.0, "model_file": "", "future_frames": 0}
        described = node.describe_parameters(list(TABLE))
        assert [d.description for d in described] == [text for _, text in TABLE.values()]
        node.destroy_node()
    finally:
        rclpy.try_shutdown()


def test_usage_lists_every_parameter_in_aligned_columns():
    """The help text: the docstring, the usage line, then one aligned row per parameter."""
    lines = usage("Doc.", "ros2 run pkg node", TABLE).splitlines()
    assert lines[:4] == ["Doc.", "Usage: ros2 run pkg node", "", "Parameters:"]
    rows = lines[4:]
    assert [row.split()[0] for row in rows] == list(TABLE)
    assert all(row.endswith(f"  {text}") for row, (_, text) in zip(rows, TABLE.values()))
    assert len({len(row) - len(text) for row, (_, text) in zip(rows, TABLE.values())}) == 1
    assert rows[0].split(None, 2)[1] == "50.0"
