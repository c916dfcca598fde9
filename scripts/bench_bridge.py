#!/usr/bin/env python3
"""Benchmark the MuJoCo bridge and print a table.

Measures (1) physics steps per second of the G1 simulation with PD evaluated every step, and the real-time
factor that gives, at 500 Hz and 1 kHz physics (library only, no ROS); (2) in real-time mode, the period of
RobotState messages received over DDS from the bridge running in its own process (p50/p99 of the period and
of its deviation from 20 ms), from receive times and from header stamps.

Usage: python scripts/bench_bridge.py [--seconds S] [--physics-seconds S]   (after `source scripts/env.sh`)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np


def physics_rate(rate: float, seconds: float) -> tuple[float, float]:
    """(physics steps per wall second, real-time factor) holding the default pose with the hold gains."""
    from twist_core.sim import G1Sim
    from twist_core.robot import load_robot_spec
    from twist_core.safety import hold_targets

    spec = load_robot_spec()
    sim = G1Sim(spec, physics_rate=rate)
    sim.set_targets(hold_targets(spec, spec.default_pose, 4.0, 4.0))
    substeps = int(rate / 50)
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        sim.state()  # what the bridge reads every control tick
        sim.step(substeps)
        steps += substeps
    elapsed = time.perf_counter() - start
    return steps / elapsed, steps / rate / elapsed


def publish_jitter(seconds: float) -> dict[str, np.ndarray]:
    """Periods [ms] of RobotState in real-time mode: by receive time and by header stamp."""
    import rclpy
    from twist_msgs.msg import RobotState

    from twist_bringup.launch_graph import config_dir
    from twist_node_common.qos import CONTROL_QOS

    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    bridge = subprocess.Popen([sys.executable, "-m", "g1_bridge.mujoco_bridge", "--ros-args", "--params-file",
                               str(config_dir() / "mujoco_bridge.yaml"), "-p", "auto_start:=true",
                               "--log-level", "warn"])
    rclpy.init()
    node = rclpy.create_node("bench_bridge")
    received: list[tuple[float, float]] = []
    node.create_subscription(RobotState, "robot_state", lambda m: received.append(
        (time.monotonic(), m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec)), CONTROL_QOS)
    try:
        deadline = time.monotonic() + 30.0
        while not received and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
        if not received:
            raise RuntimeError("no RobotState from the bridge within 30 s")
        received.clear()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        node.destroy_node()
        rclpy.shutdown()
        bridge.send_signal(subprocess.signal.SIGINT)
        bridge.wait(timeout=10)
    data = np.array(received)
    return {"receive": np.diff(data[:, 0]) * 1e3, "stamp": np.diff(data[:, 1]) * 1e3}


def main() -> int:
    """Run both measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="real-time jitter measurement length")
    parser.add_argument("--physics-seconds", type=float, default=5.0, help="length of each physics measurement")
    args = parser.parse_args()
    print(f"{'measurement':<44} {'value':>12}")
    print("-" * 57)
    for rate in (500.0, 1000.0):
        steps, rtf = physics_rate(rate, args.physics_seconds)
        print(f"{f'physics steps/s at {rate:.0f} Hz (PD every step)':<44} {steps:>12,.0f}")
        print(f"{f'real-time factor at {rate:.0f} Hz':<44} {rtf:>12.1f}")
    periods = publish_jitter(args.seconds)
    for source, values in periods.items():
        deviation = np.abs(values - 20.0)
        print(f"{f'RobotState period p50/p99, {source} [ms]':<44} {np.percentile(values, 50):>5.2f} / "
              f"{np.percentile(values, 99):<5.2f}")
        print(f"{f'|period - 20 ms| p50/p99, {source} [ms]':<44} {np.percentile(deviation, 50):>5.2f} / "
              f"{np.percentile(deviation, 99):<5.2f}")
    print(f"{'messages received':<44} {len(periods['receive']) + 1:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
