#!/usr/bin/env python3
"""make demo: the closed loop in simulation, headless, with a scripted command sequence and a live table.

Starts the graph of `twist_bringup/launch/sim.launch.py` without ros2 launch (twist_bringup.graph_runner: every node
its own process): the MuJoCo bridge in lockstep, cmg_reference (cmd_vel -> CMG reference) and the student policy. Then
start (ramp to the default pose, HOLD) and go (POLICY) through the bridge's services, and the sequence on
/cmd_vel: stand, walk 0.5 m/s, turn, stop. Every second of simulated time a row: commanded, reference and
achieved velocity (from the bridge's /odom over the last second), joint tracking error (reference - measured,
RMS over the 23 policy joints), mode, rates, latencies. At the end: damp, stop every node, write PNG plots
(velocity, tracking error, mode timeline), metrics.json and the node logs into the output directory.

    make demo                                   # models/student/policy.onnx + models/cmg/cmg.onnx
    make demo POLICY=path/policy.onnx CMG=path/cmg.onnx
    make demo TOY=1                             # toy policy + toy CMG (test fixtures): the chain, not walking
    make demo MOTION=clip.csv MOTION_FPS=60     # play a motion clip (mocap_reference) instead of the walk
    python scripts/demo.py --help               # after `source scripts/env.sh`

With a motion (``--motion``), mocap_reference replaces cmg_reference: the clip starts at go, aligned to the robot
and blended in from its pose, and the demo lasts the clip plus its blends and 2 s of standing.

Exit code 1 when a model file is missing (the message says how to make it), 2 when the loop could not start, 3
when the robot fell or the bridge damped on a fault (or on the policy node's request) before the sequence ended.
The graph runs isolated: DDS discovery on localhost only and domain 42, unless ROS_AUTOMATIC_DISCOVERY_RANGE and
ROS_DOMAIN_ID are set.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from twist_bringup.sim_session import DEFAULT_CMG, DEFAULT_POLICY, missing_models

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Phase:
    """One step of the command sequence."""

    name: str
    seconds: float
    command: tuple[float, float, float]  # vx [m/s], vy [m/s], yaw rate [rad/s]


SEQUENCE = (Phase("stand", 3.0, (0.0, 0.0, 0.0)), Phase("walk", 6.0, (0.5, 0.0, 0.0)),
            Phase("turn", 5.0, (0.3, 0.0, 0.5)), Phase("stop", 4.0, (0.0, 0.0, 0.0)))


def command_at(t: float, sequence=SEQUENCE) -> tuple[Phase | None, tuple[float, float, float]]:
    """The phase and command at ``t`` seconds into the sequence (None and zero after its end)."""
    end = 0.0
    for phase in sequence:
        end += phase.seconds
        if t < end:
            return phase, phase.command
    return None, (0.0, 0.0, 0.0)


HEADER = (f"{'t[s]':>5} {'phase':<6}| {'cmd vx':>6} {'wz':>5} | {'ref vx':>6} | {'ach vx':>6} {'vy':>5} {'wz':>5} "
          f"| {'|dv|':>5} {'|dwz|':>5} | {'jnt err':>7} | {'mode':<8}| {'state':>5} {'cmd':>5} {'RTF':>4} "
          f"| {'loop ms':>11} | {'policy ms':>9}")


def table_row(monitor, t: float, phase: str, command, since: float) -> tuple[str, dict]:
    """One live-table row for the last second; also returned as numbers."""
    from twist_bringup.closed_loop import mode_name, percentiles

    achieved = monitor.achieved_velocity(window=1.0)
    recent = [s for s in monitor.states if s.stamp > monitor.sim_time() - 1.0]
    errors = monitor.tracking_error(recent)
    joint_err = float(np.mean(errors)) if errors.size else float("nan")
    rates = monitor.rates()
    loop = percentiles(monitor.latency_ms(since_stamp=since))
    ref_vx = monitor.reference_velocity[-1][1] if monitor.reference_velocity else float("nan")
    dv = float(np.hypot(command[0] - achieved[0], command[1] - achieved[1]))
    dwz = float(abs(command[2] - achieved[2]))
    diag = monitor.diagnostics
    policy_ms = f"{float(diag.get('inference_p50_ms', 'nan')):.2f}/{float(diag.get('inference_p99_ms', 'nan')):.2f}"
    row = (f"{t:5.1f} {phase:<6}| {command[0]:6.2f} {command[2]:5.2f} | {ref_vx:6.2f} | {achieved[0]:6.2f} "
           f"{achieved[1]:5.2f} {achieved[2]:5.2f} | {dv:5.2f} {dwz:5.2f} | {joint_err:7.3f} | "
           f"{mode_name(monitor.mode()):<8}| {rates['state_hz']:5.1f} {rates['command_hz']:5.1f} {rates['rtf']:4.2f} "
           f"| {loop[0]:5.1f}/{loop[1]:5.1f} | {policy_ms:>9}")
    return row, {"t": t, "phase": phase, "command": list(command), "achieved": achieved.tolist(),
                 "reference_vx": ref_vx, "velocity_error": dv, "yaw_rate_error": dwz, "joint_error": joint_err,
                 "mode": mode_name(monitor.mode()), **rates, "loop_p50_ms": loop[0], "loop_p99_ms": loop[1]}


def motion_sequence(path: Path, fps: float) -> tuple[Phase, ...]:
    """The demo's timeline for a clip: the clip, mocap_reference's blends (1 s each) and 2 s of standing."""
    from twist_core.motion_formats import read_motion
    from twist_core.robot import load_robot_spec

    motion = read_motion(path, load_robot_spec(), fps=fps or None)
    return (Phase("clip", motion.duration + 2.0 + 2.0, (0.0, 0.0, 0.0)),)


def run_sequence(monitor, runner, table_period: float, wall_limit: float, log, sequence=SEQUENCE) -> list[dict]:
    """Publish the command sequence by simulated time, print the table; returns its rows."""
    from twist_core.safety import Mode

    rows: list[dict] = []
    start = monitor.sim_time()
    next_row, last_cmd, wall_start = table_period, -1.0, time.monotonic()
    total = sum(p.seconds for p in sequence)
    log(HEADER)
    while True:
        monitor.spin_for(0.005)
        t = monitor.sim_time() - start
        phase, command = command_at(t, sequence)
        if t - last_cmd >= 0.1:  # 10 Hz of simulated time (cmg_reference holds a command for its cmd_timeout, 1.5 s)
            monitor.send_velocity(*command)
            last_cmd = t
        if t >= next_row:
            row, numbers = table_row(monitor, t, phase.name if phase else "end", command, start)
            log(row)
            rows.append(numbers)
            next_row += table_period
        if t >= total:
            return rows
        if runner.exited():
            raise RuntimeError(f"a node exited: {runner.exited()} (see the logs)")
        if monitor.mode() == Mode.DAMPING:
            fault = monitor.status.fault_message if monitor.status else "?"
            log(f"the bridge is DAMPING ({fault}): the sequence stops here")
            return rows
        if time.monotonic() - wall_start > wall_limit:
            raise RuntimeError(f"the sequence took more than {wall_limit:.0f} s of wall time "
                               f"(simulated {t:.1f} s of {total:.0f})")


def phase_summary(monitor, start: float, sequence=SEQUENCE) -> list[dict]:
    """Per phase: command, mean achieved velocity and joint error over the phase's second half."""
    out = []
    t0 = start
    for phase in sequence:
        begin, end = t0 + phase.seconds / 2, t0 + phase.seconds
        t0 = end
        if monitor.sim_time() < end:
            break
        achieved = monitor.achieved_velocity(end=end, window=end - begin)
        errors = monitor.tracking_error([s for s in monitor.states if begin <= s.stamp <= end])
        out.append({"phase": phase.name, "command": list(phase.command), "achieved": achieved.tolist(),
                    "velocity_error": float(np.hypot(*(np.array(phase.command[:2]) - achieved[:2]))),
                    "yaw_rate_error": float(abs(phase.command[2] - achieved[2])),
                    "joint_error": float(np.mean(errors)) if errors.size else float("nan")})
    return out


def write_plots(monitor, start: float, out: Path, sequence=SEQUENCE) -> list[Path]:
    """velocity.png, tracking.png, modes.png in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from twist_core.safety import Mode

    stamps = np.array([s.stamp for s in monitor.states]) - start
    walls = np.array([s.wall for s in monitor.states])
    grid = np.arange(1.0, stamps[-1], 0.1) if len(stamps) and stamps[-1] > 1.0 else np.array([])
    achieved = np.array([monitor.achieved_velocity(end=start + t) for t in grid]).reshape(-1, 3)
    commanded = np.array([command_at(t, sequence)[1] for t in grid]).reshape(-1, 3)
    reference = np.array(monitor.reference_velocity).reshape(-1, 4)
    ref_t = np.interp(reference[:, 0], walls, stamps) if len(walls) else reference[:, 0]
    paths = []
    fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    for i, (ax, label) in enumerate(zip(axes, ("vx [m/s]", "vy [m/s]", "yaw rate [rad/s]"))):
        ax.plot(grid, commanded[:, i], label="commanded (cmd_vel)", color="k", lw=2)
        ax.plot(ref_t, reference[:, i + 1], label="reference (CMG)", alpha=0.7)
        ax.plot(grid, achieved[:, i], label="achieved (odom, 1 s window)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("simulated time since go [s]")
    fig.suptitle("Velocity: commanded vs achieved")
    paths.append(out / "velocity.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    with_ref = [s for s in monitor.states if s.reference_q is not None]
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    axes[0].plot([s.stamp - start for s in with_ref], monitor.tracking_error(with_ref))
    axes[0].set_ylabel("joint tracking error\nRMS, 23 joints [rad]")
    axes[1].plot(stamps, [s.height for s in monitor.states])
    axes[1].set_ylabel("pelvis height [m]")
    axes[1].set_xlabel("simulated time since go [s]")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("Joint tracking error (reference - measured) and pelvis height")
    paths.append(out / "tracking.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(10, 3))
    ax.step(stamps, [s.mode for s in monitor.states], where="post")
    ax.set_yticks([int(m) for m in Mode], [m.name for m in Mode])
    t0 = 0.0
    for phase in sequence:
        ax.axvline(t0, color="grey", ls=":")
        ax.text(t0 + 0.1, 0.2, phase.name, fontsize=8)
        t0 += phase.seconds
    ax.set_xlabel("simulated time since go [s] (negative: start-up)")
    ax.set_title("Bridge mode")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(out / "modes.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--policy", default=DEFAULT_POLICY, help=f"exported student policy (default {DEFAULT_POLICY})")
    parser.add_argument("--cmg", default=DEFAULT_CMG, help=f"exported CMG (default {DEFAULT_CMG})")
    parser.add_argument("--toy", action="store_true",
                        help="use the toy policy and toy CMG of the tests (written to a temporary directory)")
    parser.add_argument("--gantry", choices=["auto", "on", "off"], default="auto",
                        help="keep the virtual gantry after go (auto: on with --toy, which cannot balance)")
    parser.add_argument("--motion", default="", help="play this motion clip (mocap_reference) instead of the walk")
    parser.add_argument("--motion-fps", type=float, default=0.0,
                        help="frame rate of a --motion file without one (G1 CSV: e.g. 60)")
    parser.add_argument("--out", default="", help="output directory (default runs/demo/<time>)")
    parser.add_argument("--table-period", type=float, default=1.0, help="seconds of simulated time per row")
    parser.add_argument("--wall-limit", type=float, default=300.0, help="give up after this many wall seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; see the module docstring."""
    args = parse_args(argv)
    policy, cmg = Path(args.policy).expanduser().resolve(), Path(args.cmg).expanduser().resolve()
    sequence = SEQUENCE
    if args.motion:
        try:
            sequence = motion_sequence(Path(args.motion), args.motion_fps)
        except ValueError as exc:  # MotionError: the file, unreadable or invalid
            print(f"make demo: {exc}", file=sys.stderr)
            return 1
    if not args.toy:
        problems = missing_models(policy, cmg if not args.motion else policy)
        if problems:
            for line in problems:
                print(f"make demo: {line}", file=sys.stderr)
            return 1
    from twist_bringup.closed_loop import LoopMonitor
    from twist_bringup.sim_session import headless_graph, monitor_session, write_toy_models
    from twist_core.robot import load_robot_spec

    spec = load_robot_spec()
    out = Path(args.out or ROOT / "runs" / "demo" / time.strftime("%Y%m%d-%H%M%S")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    toy_dir = tempfile.TemporaryDirectory(prefix="twist_demo_toy_")
    if args.toy:
        policy, cmg = write_toy_models(Path(toy_dir.name), spec)
    gantry = args.gantry == "on" or (args.gantry == "auto" and args.toy)
    reference = {"reference": "mocap", "motion_file": str(Path(args.motion).resolve()),
                 "motion_fps": args.motion_fps} if args.motion else {"reference": "cmg", "cmg_model": str(cmg)}
    graph = headless_graph(clock_mode="lockstep", policy_file=str(policy),
                           bridge_parameters={"release_gantry_on_go": not gantry}, **reference)
    log = lambda text: print(text, flush=True)  # noqa: E731
    log(f"demo: policy {policy}{' (toy: targets = reference joints, no learning)' if args.toy else ''}")
    if args.motion:
        log(f"demo: motion {args.motion} ({sequence[0].seconds:.1f} s with blends and standing)")
    else:
        log(f"demo: CMG {cmg}{' (toy: a linear map moving hips and knees)' if args.toy else ''}")
    held = "ON (it holds the pelvis: the robot cannot fall, nor walk)" if gantry else "off"
    log(f"demo: virtual gantry after go: {held}")
    log(f"demo: output and node logs in {out}")
    with monitor_session(lambda: LoopMonitor(spec, name="demo_monitor")) as monitor:
        status = report(monitor, graph, args, sequence, out, log, policy, cmg, gantry)
    toy_dir.cleanup()
    return status


def report(monitor, graph, args, sequence, out: Path, log, policy: Path, cmg: Path, gantry: bool) -> int:
    """Run the graph through the sequence, then print the summary and write the plots and metrics; the exit code."""
    from twist_bringup.closed_loop import graph_session, mode_name, percentiles
    from twist_bringup.sim_session import graph_runner
    from twist_core.safety import Mode

    rows: list[dict] = []
    start = 0.0
    status = 0
    failure = ""
    runner = graph_runner(graph, out / "logs")
    try:
        with graph_session(monitor, runner, start_timeout=90.0, log=lambda text: log(f"bridge {text}")):
            start = monitor.sim_time()
            rows = run_sequence(monitor, runner, args.table_period, args.wall_limit, log, sequence)
            if monitor.mode() == Mode.DAMPING:  # before the demo's own damping: a fault, or the policy's request
                failure = f"the bridge damped: {monitor.status.fault_message if monitor.status else '?'}"
    except KeyboardInterrupt:
        log("demo: interrupted")
    except (RuntimeError, TimeoutError, FileNotFoundError) as exc:
        log(f"demo: {exc}")
        status = 2
    log(f"demo: nodes stopped (exit codes {runner.exited()}); final mode {mode_name(monitor.mode())}")
    if monitor.states and start:
        summary = phase_summary(monitor, start, sequence)
        fell, how = monitor.fell()
        loop = percentiles(monitor.latency_ms(since_stamp=start))
        diag = monitor.diagnostics
        log("")
        log(f"{'phase':<6} {'cmd vx':>6} {'vy':>5} {'wz':>5} | {'achieved vx':>11} {'vy':>6} {'wz':>6} | "
            f"{'|dv| m/s':>8} {'|dwz|':>6} | {'joint err rad':>13}")
        for p in summary:
            c, a = p["command"], p["achieved"]
            log(f"{p['phase']:<6} {c[0]:6.2f} {c[1]:5.2f} {c[2]:5.2f} | {a[0]:11.3f} {a[1]:6.3f} {a[2]:6.3f} | "
                f"{p['velocity_error']:8.3f} {p['yaw_rate_error']:6.3f} | {p['joint_error']:13.4f}")
        log(f"fell: {'YES: ' + how if fell else 'no'}; gantry {'on' if gantry else 'off'}; loop latency state->command "
            f"p50 {loop[0]:.1f} ms, p99 {loop[1]:.1f} ms; policy inference p50 {diag.get('inference_p50_ms', '?')} "
            f"ms, p99 {diag.get('inference_p99_ms', '?')} ms")
        if args.toy:
            log("toy policy: it copies the reference joints into PD targets and does not balance; the numbers above "
                "are what that achieves" + (" held by the gantry" if gantry else ""))
        keys = monitor.keybody_error([s for s in monitor.states if s.stamp >= start])
        if args.motion:
            log(f"motion: mean key-body error {np.mean(keys) if keys.size else float('nan'):.3f} m")
        paths = write_plots(monitor, start, out, sequence)
        metrics = {"policy": str(policy), "cmg": str(cmg), "toy": args.toy, "gantry": gantry, "fell": fell,
                   "fall": how, "phases": summary, "rows": rows, "loop_latency_ms": {"p50": loop[0], "p99": loop[1]},
                   "policy_diagnostics": diag}
        (out / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
        log(f"wrote {', '.join(str(p) for p in paths)} and {out / 'metrics.json'}")
        failure = f"the robot fell ({how})" if fell else failure
    if failure and status == 0:
        log(f"demo: FAILED: {failure}")
        status = 3
    return status


if __name__ == "__main__":
    sys.exit(main())
