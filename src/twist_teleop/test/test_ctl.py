"""twist-ctl: its pure helpers and its errors.

Driving the simulated G1 with it and the keyboard teleop is twist_bringup's test_drive_with_twist_ctl.py (the
closed loop of `make sim` started from the launch graph).
"""

import math
import subprocess
from types import SimpleNamespace

import pytest

from twist_node_common.workspace import executable_path
from twist_teleop.ctl import find_bridges, format_status, namespaced

CTL = executable_path("twist_teleop", "twist-ctl")


def ctl(*args, timeout=60.0):
    """Run twist-ctl as a user would; its completed process (text output)."""
    return subprocess.run([str(CTL), *args], capture_output=True, text=True, timeout=timeout)


def test_find_bridges_and_names():
    """The bridges are found by their ~/start service, in the namespace asked for only."""
    names = ["/mujoco_bridge/start", "/mujoco_bridge/go", "/g1/unitree_bridge/start", "/other/start",
             "/cmg_reference/pause"]
    assert find_bridges(names) == ["mujoco_bridge"]
    assert find_bridges(names, "g1") == ["unitree_bridge"] == find_bridges(names, "/g1/")
    assert find_bridges(names, "robot") == []
    assert namespaced("", "cmd_vel") == "/cmd_vel" and namespaced("/g1/", "cmd_vel") == "/g1/cmd_vel"


def test_format_status():
    """Mode and fault by name, the fault's message, the simulation's gantry and real-time factor, a warning."""
    status = SimpleNamespace(mode=4, fault=4, fault_message="roll 1.2 rad", pelvis_height=0.41, backend="mujoco",
                             gantry_engaged=False, real_time_factor=0.98, commands_received=120, command_age=0.02,
                             warning="")
    line = format_status(status, "mujoco_bridge")
    assert line.startswith("mujoco_bridge: mode DAMPING, fault TILT (roll 1.2 rad), pelvis 0.41 m, gantry released")
    assert "real-time factor 0.98" in line and "policy commands 120 (last 0.02 s ago)" in line
    robot = SimpleNamespace(mode=2, fault=0, fault_message="", pelvis_height=math.nan, backend="unitree",
                            gantry_engaged=False, real_time_factor=1.0, commands_received=0, command_age=-1.0,
                            warning="remote lost")
    assert format_status(robot, "unitree_bridge") == ("unitree_bridge: mode HOLD, policy commands 0, "
                                                      "WARNING remote lost")


@pytest.mark.parametrize("args,message", [
    (["cmd", "nan", "0", "0"], "not finite: 'nan'"),
    (["cmd", "0.5", "0"], "the following arguments are required: wz"),
    (["cmd", "x", "0", "0"], "not a number: 'x'"),
    (["--timeout", "0", "status"], "must be > 0"),
    (["walk"], "invalid choice: 'walk'"),
])
def test_bad_usage_exits_2(args, message):
    """A NaN command, a missing or non-numeric velocity, a bad timeout or command: exit 2 with the reason."""
    out = ctl(*args)
    assert out.returncode == 2 and message in out.stderr, out.stderr


def test_help_and_nothing_to_talk_to():
    """--help explains every command; with no graph running, each command exits 1 naming where it looked."""
    help_text = ctl("--help").stdout
    assert all(word in help_text for word in ("start", "go", "damp", "status", "cmd VX VY WZ", "cmd_timeout"))
    for args in (["start"], ["status"], ["cmd", "0.2", "0", "0"]):
        out = ctl("--timeout", "1", "--namespace", f"nobody_{args[0]}", *args)
        assert out.returncode == 1, out
        assert "within 1 s" in out.stderr and ("ROS_DOMAIN_ID=" in out.stderr or "cmd_vel" in out.stderr)
