"""LoopMonitor.fell: a fall during the run counts, the sag after graph_session damps the bridge does not."""

import numpy as np
import rclpy
from twist_msgs.msg import BridgeStatus

from twist_bringup.closed_loop import LoopMonitor, StateSample
from twist_core.robot import load_robot_spec
from twist_core.safety import Fault


def _state(spec, stamp, height):
    return StateSample(0.0, stamp, int(stamp * 50), 3, spec.default_pose.copy(), height, None)


def _status(stamp, fault):
    msg = BridgeStatus(fault=int(fault), fault_message=f"fault {int(fault)}")
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(stamp), int(round((stamp % 1) * 1e9))
    return msg


def test_fell_ignores_what_follows_the_end_of_the_run():
    """States and faults stamped after run_ended do not count; before it, and without it, they do."""
    rclpy.init()
    try:
        spec = load_robot_spec()
        monitor = LoopMonitor(spec, name="test_loop_monitor")
        monitor.states += [_state(spec, t, 0.78) for t in np.arange(0.0, 2.0, 0.02)]
        monitor.states += [_state(spec, 2.5, 0.30)]
        monitor.statuses.append(_status(2.5, Fault.TILT))
        monitor.run_ended = 2.0
        assert monitor.fell() == (False, "")
        monitor.run_ended = None
        assert monitor.fell() == (True, f"fault {int(Fault.TILT)}")
        monitor.statuses.clear()
        assert monitor.fell() == (True, "pelvis at 0.30 m at t=2.50 s")
        monitor.run_ended = 3.0
        assert monitor.fell()[0]
        monitor.clear(drain=0.0)
        assert monitor.run_ended is None
        monitor.destroy_node()
    finally:
        rclpy.shutdown()
