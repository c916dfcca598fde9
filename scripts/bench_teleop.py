#!/usr/bin/env python3
r"""Benchmark live teleoperation in the MuJoCo simulation: bridge + teleop_reference + policy, in real time.

Each run is a fresh graph (twist_bringup.graph_runner, every node its own process, the bridge in real time, the
virtual gantry released at go); after go this process streams ``--motion`` to ``teleop/joint_states`` and
``teleop/root_pose`` at the clip's own rate, as ``teleop-replay`` does (``twist_reference.teleop_replay``), stamped on a
source clock ``--clock-offset`` s off the wall clock, then ``--after`` seconds of silence (the reference blends
to standing). Runs:

- ``file``: the same clip played from the file by ``mocap_reference`` (can the tracker follow it at all?);
- ``clean``: the stream as captured;
- ``degraded``: ``--drop`` of the samples lost, each late by up to ``--jitter`` s, silent for ``--burst`` s every
  ``--burst-every`` s;
- ``upper``: the clean stream in ``mode:=upper_body`` (waist and arms from the stream) while ``/cmd_vel`` asks
  the CMG to walk forward at ``--walk`` m/s (the row ends with the distance walked).

One row per run:

- latency p50/p99 (stream runs): per sample, from its arrival (its send time here) to the first JointCommand
  that tracks the first MotionReference playing it (stamped at least the playout delay after the sample arrived;
  the command's ``reference_sequence`` names the reference), minus the playout delay: the wait for the reference
  node's next tick (each robot_state, or its timer), reference transport, the policy's inference, command
  transport. "lat": with this process's receive time of the command (its own receive delays included: an upper
  bound); "st.": with the command's stamp (the policy's clock);
- non-finite: references with a NaN/Inf; max step: the largest joint change between consecutive references as a
  fraction of the per-joint speed limit (``joint_speed_scale`` x the velocity limit of config/g1.yaml x 1/rate);
- fell (a TILT/HEIGHT fault of the bridge or the pelvis below 0.5 m) and the joint tracking error (RMS over the
  policy joints of reference - measured while the clip played).

    python scripts/bench_teleop.py --motion data/walk400/clip_0000.npz            (after `source scripts/env.sh`)
    python scripts/bench_teleop.py --motion clip.csv --fps 30 --runs clean degraded --repeat 3 --json teleop.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from twist_bringup.sim_session import DEFAULT_CMG, DEFAULT_POLICY

ROOT = Path(__file__).resolve().parents[1]
RUNS = ("file", "clean", "degraded", "upper")
HEADER = (f"{'run':<9} {'samples':>11} {'lat p50':>8} {'lat p99':>8} {'st. p50':>8} {'st. p99':>8} {'non-finite':>10} "
          f"{'max step':>8} {'fell':>5} {'joint err':>9}")


def make_monitor(spec):
    """A LoopMonitor that also keeps each reference's sequence, stamp and joints, and publishes the stream."""
    from geometry_msgs.msg import PoseStamped
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState

    from twist_bringup.closed_loop import LoopMonitor

    class TeleopMonitor(LoopMonitor):
        def __init__(self):
            super().__init__(spec, name="bench_teleop_monitor")
            self.stamped: list[tuple[float, float, int, np.ndarray]] = []  # (wall, stamp, sequence, joints)
            qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
            self.joints_pub = self.create_publisher(JointState, "teleop/joint_states", qos)
            self.root_pub = self.create_publisher(PoseStamped, "teleop/root_pose", qos)

        def _on_reference(self, msg):
            super()._on_reference(msg)
            stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
            self.stamped.append((time.monotonic(), stamp, msg.sequence, np.asarray(msg.current.joint_positions)))

        def clear(self, drain: float = 0.5) -> None:
            super().clear(drain)
            self.stamped.clear()

    return TeleopMonitor()


def stream(monitor, motion, args, degraded: bool, walk: float = 0.0) -> list[tuple[float, float]]:
    """Stream the clip (degraded as told; cmd_vel ``walk`` m/s forward); each sample's (wall, monotonic) send time."""
    import rclpy
    from geometry_msgs.msg import Twist, Vector3

    from twist_reference.teleop_replay import publish, sampler, schedule

    rng = np.random.default_rng(args.seed)
    times = np.arange(motion.num_frames) / motion.fps
    plan = schedule(times, rng, 0.0, args.jitter, args.drop, args.burst, args.burst_every) if degraded else \
        schedule(times, rng)
    player = sampler(motion, monitor.spec, loop=False)
    sent = []
    start = time.time()
    for send_at, k in plan:
        while time.time() < start + send_at:
            rclpy.spin_once(monitor, timeout_sec=max(0.0, min(0.002, start + send_at - time.time())))
        wall, mono = time.time(), time.monotonic()
        publish(monitor.joints_pub, monitor.root_pub, motion.joint_names, player.frame(times[k]),
                start + times[k] + args.clock_offset, "mocap")
        sent.append((wall, mono))
        if walk:
            monitor.cmd_vel_pub.publish(Twist(linear=Vector3(x=walk)))
    monitor.cmd_vel_pub.publish(Twist())
    return sent


def latencies(monitor, sent: list[tuple[float, float]], delay: float) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, from its arrival to the first JointCommand that tracks a reference playing it, less the delay.

    The reference that plays a sample is the first stamped at least ``delay`` after its arrival; a command tracks
    the reference its ``reference_sequence`` names (or a later one). Two measures: with this process's receive
    time of the command (its own receive delays included) and with the command's stamp (the policy's clock).
    """
    refs = monitor.stamped
    ref_stamps = np.array([stamp for _, stamp, _, _ in refs])
    ref_sequences = np.array([sequence for _, _, sequence, _ in refs])
    tracking = [(wall, msg) for wall, msg in monitor.commands if msg.reference_sequence >= 0]
    command_refs = np.maximum.accumulate(np.array([msg.reference_sequence for _, msg in tracking] or [-1]))
    received, stamped = [], []
    for wall, mono in sent:
        i = np.searchsorted(ref_stamps, wall + delay)
        if i >= len(refs):
            continue
        j = np.searchsorted(command_refs, ref_sequences[i])
        if j < len(tracking):
            command_wall, msg = tracking[j]
            received.append(command_wall - mono - delay)
            stamped.append(msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec - wall - delay)
    return np.array(received), np.array(stamped)


def reference_checks(monitor, spec, scale: float, rate: float) -> tuple[int, float]:
    """(references with a non-finite number, largest joint step between consecutive references / speed limit)."""
    refs = monitor.stamped
    non_finite = sum(not np.all(np.isfinite(q)) for _, _, _, q in refs)
    limit = scale * spec.velocity_limits / rate
    worst = 0.0
    for (_, _, s0, q0), (_, _, s1, q1) in zip(refs, refs[1:]):
        if s1 == s0 + 1 and len(q0) == len(q1) == spec.num_joints:
            worst = max(worst, float(np.max(np.abs(q1 - q0) / limit)))
    return int(non_finite), worst


def play(monitor, motion, args, kind: str) -> list[tuple[float, float]]:
    """Stand a second under the policy, then the run: the clip file played by the node, or streamed; what was sent."""
    from twist_core.safety import Mode

    sent: list[tuple[float, float]] = []
    monitor.spin_for(1.0)  # standing under the policy
    if kind == "file":
        end = time.monotonic() + motion.duration + 2.0 + args.after  # blends in and out
        monitor.spin_until(lambda: time.monotonic() > end or monitor.mode() != Mode.POLICY,
                           motion.duration + 10.0 + args.after)
    else:
        sent = stream(monitor, motion, args, degraded=kind == "degraded", walk=args.walk if kind == "upper" else 0.0)
        monitor.spin_for(args.after)
    return sent


def run(monitor, spec, graph, motion, args, kind: str, log_dir: Path) -> dict:
    """One graph, one run; the row."""
    from twist_bringup.closed_loop import graph_session, percentiles
    from twist_bringup.sim_session import graph_runner
    from twist_msgs.msg import MotionReference

    row: dict = {"run": kind}
    sent: list[tuple[float, float]] = []
    playing = MotionReference.SOURCE_MOCAP if kind == "file" else MotionReference.SOURCE_TELEOP
    fell, how, end = False, "", np.inf
    try:
        with graph_session(monitor, graph_runner(graph, log_dir)) as runner:
            try:
                sent = play(monitor, motion, args, kind)
            except RuntimeError as exc:
                row["error"] = str(exc)
            # judged before the session damps the bridge: the robot sags when damped, which is no fall
            (fell, how), end = monitor.fell(), monitor.sim_time()
            if runner.exited() and not row.get("error"):
                row["error"] = f"a node exited: {runner.exited()}"
    except (RuntimeError, TimeoutError) as exc:
        row["error"] = str(exc)
    if kind == "upper" and len(monitor.odom) > 1:
        row["walked_m"] = float(np.hypot(monitor.odom[-1][1] - monitor.odom[0][1],
                                         monitor.odom[-1][2] - monitor.odom[0][2]))
    clip = [s for s in monitor.states if s.reference_source == playing and s.stamp <= end]
    joints = monitor.tracking_error(clip)
    lat, lat_stamped = latencies(monitor, sent, args.playout_delay) if sent else (np.array([]), np.array([]))
    non_finite, max_step = reference_checks(monitor, spec, args.joint_speed_scale, 50.0)
    p50, p99 = percentiles(lat * 1e3)
    s50, s99 = percentiles(lat_stamped * 1e3)
    row.update({"samples": len(sent), "captured": motion.num_frames, "latency_p50_ms": p50, "latency_p99_ms": p99,
                "stamped_p50_ms": s50, "stamped_p99_ms": s99,
                "non_finite": non_finite, "max_step": max_step, "fell": fell, "fall": how,
                "joint_error": float(np.mean(joints)) if joints.size else float("nan"),
                "references": len(monitor.stamped)})
    return row


def format_row(row: dict) -> str:
    """One table line."""
    samples = f"{row['samples']}/{row['captured']}" if row["run"] != "file" else "-"
    return (f"{row['run']:<9} {samples:>11} {row['latency_p50_ms']:>8.1f} {row['latency_p99_ms']:>8.1f} "
            f"{row['stamped_p50_ms']:>8.1f} {row['stamped_p99_ms']:>8.1f} "
            f"{row['non_finite']:>10d} {row['max_step']:>8.2f} {str(row['fell']):>5} {row['joint_error']:>9.3f}"
            + (f"  walked {row['walked_m']:.2f} m" if "walked_m" in row else "")
            + (f"  {row['fall']}" if row["fall"] else "") + (f"  ERROR {row['error']}" if row.get("error") else ""))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--motion", required=True, help="the clip (any motion-tool format)")
    parser.add_argument("--fps", type=float, default=None, help="frame rate of a clip without one (CSV)")
    parser.add_argument("--policy", default=str(ROOT / DEFAULT_POLICY),
                        help=f"exported student policy (default {DEFAULT_POLICY} of this repository)")
    parser.add_argument("--cmg", default=str(ROOT / DEFAULT_CMG),
                        help=f"exported CMG, the policy's controlled stop (default {DEFAULT_CMG} of this repository)")
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS))
    parser.add_argument("--repeat", type=int, default=1, help="run the list this many times (each graph's ticks "
                                                              "fall at another phase of the bridge's states)")
    parser.add_argument("--drop", type=float, default=0.2, help="degraded: fraction of samples lost")
    parser.add_argument("--jitter", type=float, default=0.03, help="degraded: uniform random delay up to this [s]")
    parser.add_argument("--burst", type=float, default=0.3, help="degraded: silences of this many seconds ...")
    parser.add_argument("--burst-every", type=float, default=2.0, help="... every this many seconds")
    parser.add_argument("--clock-offset", type=float, default=-37.5, help="source clock - wall clock [s]")
    parser.add_argument("--playout-delay", type=float, default=0.05, help="teleop_reference playout_delay [s]")
    parser.add_argument("--joint-speed-scale", type=float, default=0.5, help="teleop_reference joint_speed_scale")
    parser.add_argument("--timer-ticks", action="store_true",
                        help="the reference nodes tick on their timer alone (tick_on_state false) and the policy does "
                             "not wait for the reference (reference_wait 0): the latency without state ticks")
    parser.add_argument("--walk", type=float, default=0.3, help="upper: cmd_vel forward speed [m/s]")
    parser.add_argument("--after", type=float, default=3.0, help="seconds after the stream (or clip) ends")
    parser.add_argument("--seed", type=int, default=0, help="seed of drops and jitter")
    parser.add_argument("--json", default="", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    policy, cmg = (Path(p).expanduser().resolve() for p in (args.policy, args.cmg))
    for path in (policy, cmg):
        if not path.is_file():
            print(f"bench_teleop: no such file {path}", file=sys.stderr)
            return 1
    from twist_bringup.launch_graph import override_parameters
    from twist_bringup.sim_session import headless_graph, monitor_session
    from twist_core.motion import MotionError
    from twist_core.motion_formats import read_motion
    from twist_core.robot import load_robot_spec

    spec = load_robot_spec()
    try:
        motion = read_motion(args.motion, spec, fps=args.fps)
    except MotionError as exc:
        print(f"bench_teleop: {exc}", file=sys.stderr)
        return 1
    work = tempfile.TemporaryDirectory(prefix="twist_bench_teleop_")
    print(f"policy {policy}; clip {args.motion} ({motion.duration:.1f} s at {motion.fps:g} Hz); real time; "
          f"degraded: drop {args.drop}, jitter {args.jitter} s, {args.burst} s silent every {args.burst_every} s; "
          f"clock offset {args.clock_offset} s; latencies in ms, excluding the "
          f"{args.playout_delay} s playout delay",
          flush=True)
    print(HEADER, flush=True)
    rows = []
    with monitor_session(lambda: make_monitor(spec)) as monitor:
        try:
            for index, kind in enumerate(args.runs * args.repeat):
                reference = "mocap" if kind == "file" else "teleop"
                graph = headless_graph(clock_mode="realtime", reference=reference, cmg_model=str(cmg),
                                       motion_file=str(Path(args.motion).resolve()), motion_fps=args.fps or 0.0,
                                       policy_file=str(policy))
                teleop = {"playout_delay": args.playout_delay, "joint_speed_scale": args.joint_speed_scale,
                          "mode": "upper_body" if kind == "upper" else "whole_body"}
                timer = {"tick_on_state": False} if args.timer_ticks else {}
                overrides = {"teleop_reference": {**teleop, **timer}} if kind != "file" else {"mocap_reference": timer}
                if args.timer_ticks:
                    overrides["twist_policy"] = {"reference_wait": 0.0}
                graph = override_parameters(graph, overrides)
                row = run(monitor, spec, graph, motion, args, kind, Path(work.name) / str(index))
                rows.append(row)
                print(format_row(row), flush=True)
        except KeyboardInterrupt:
            print("interrupted")
    if args.json:
        Path(args.json).write_text(json.dumps({"policy": str(policy), "motion": args.motion, "rows": rows},
                                              indent=1, default=float))
    work.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
