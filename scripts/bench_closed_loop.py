#!/usr/bin/env python3
r"""Benchmark the closed loop: bridge + cmg_reference + policy, N seconds per velocity command.

For each command a fresh graph (twist_bringup.graph_runner, every node its own process, as `make demo`; the bridge
in lockstep unless ``--clock-mode realtime``): start, go, ``--settle`` seconds standing, then the command on
/cmd_vel for ``--seconds`` of simulated time. One row per command:

- fell: a TILT/HEIGHT fault of the bridge or the pelvis below 0.5 m (with the simulated seconds after go at
  which the bridge damped); the run of that command ends there;
- velocity error: |commanded - achieved| of (vx, vy) and of the yaw rate, achieved = the pelvis' mean velocity in
  its heading frame (each /odom step turned into the heading of its moment, so a curved walk counts along the
  body) over the command's last ``--seconds - --ramp-up`` seconds; commands may be negative (``-0.5,0,0``);
- joint tracking error: RMS over the 23 policy joints of reference - measured, mean over the command;
- key-body error: mean distance of the reference's key bodies from the measured ones (relative to the pelvis,
  heading frame), mean over the command;
- pushes (``--push-velocity``): every ``--push-interval`` simulated seconds of the command a push of that speed
  in a random horizontal direction (the bridge's ``~/push``; seeded by ``--seed``), as in training;
- loop latency state -> command p50/p99: receive time of the JointCommand answering RobotState k minus that of
  RobotState k (both in this process); policy inference p50/p99 from the policy node's /diagnostics;
- state rate and real-time factor (wall-clock receive times, from go to the end of the run);
- missed ticks: control ticks (50 Hz) after the settle with no new JointCommand, from the wall-clock gaps between
  commands (meaningful in real time; in lockstep the simulation waits for the policy), and the longest gap; the
  JSON lists each late command (``late_commands``: wall seconds after the settle, gap before it in ms);
- reference loss (``--kill-reference S``): SIGKILL of ``cmg_reference`` S simulated seconds after the command started
  plus a random fraction of a second (seeded by ``--seed``: the gait phase at the loss differs by seed); the policy's
  controlled stop must bring the robot to a stand. The row says whether it fell and its speed over the run's last
  second (``final_speed``).

``--trace DIR`` also writes, per command, ``DIR/command_<i>.csv`` (the pelvis from /odom: seconds since the command
started, x, y, unwrapped heading; one row per state) and ``DIR/paths.png`` (the paths seen from above, and the
heading against time, pushes marked): where a number says a walk went wrong, the plot shows how.

    python scripts/bench_closed_loop.py --toy                        # toy policy + toy CMG (the test fixtures)
    python scripts/bench_closed_loop.py --policy models/student/policy.onnx --cmg models/cmg/cmg.onnx \\
        --seconds 60 --commands 0,0,0 0.5,0,0 1.0,0,0 0.3,0,0.5 --markdown table.md
    python scripts/bench_closed_loop.py --seconds 60 --commands 0.5,0,0 --push-velocity 0.5 --push-interval 5
    python scripts/bench_closed_loop.py --commands 0.5,0,0 --param cmg_reference:heading_hold_gain=0.0
    python scripts/bench_closed_loop.py --commands 0.5,0,0 0,0,0.5 --seconds 30 --trace trace/
    python scripts/bench_closed_loop.py --commands 1.0,0,0 --seconds 8 --kill-reference 3 --seed 1
    (after `source scripts/env.sh`)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from twist_bringup.sim_session import DEFAULT_CMG, DEFAULT_POLICY, missing_models
from twist_core.cli_commands import parse_command, protect_negative_commands


def run_command(monitor, graph, command, args, log_dir: Path) -> tuple[dict, np.ndarray]:
    """One fresh graph: start, go, settle, command for args.seconds; the row's numbers and the pelvis trace.

    The trace: (N, 4) of /odom from the command's start (seconds since then, x, y, unwrapped heading); the
    row's ``push_times`` are on the same clock.
    """
    from twist_bringup.closed_loop import graph_session
    from twist_bringup.sim_session import graph_runner

    runner = graph_runner(graph, log_dir)
    row = {"command": list(command), "push_times": []}
    trace = np.zeros((0, 4))
    try:
        with graph_session(monitor, runner):
            trace = drive(monitor, runner, command, args, row)
    except (RuntimeError, TimeoutError) as exc:
        row["error"] = str(exc)
    return row, trace


def drive(monitor, runner, command, args, row: dict) -> np.ndarray:
    """Settle, then the command for args.seconds on a started graph; fill ``row`` in, return the pelvis trace."""
    from twist_bringup.closed_loop import percentiles
    from twist_core.safety import Mode

    go = monitor.sim_time()
    end_settle, end = go + args.settle, go + args.settle + args.seconds
    wall_start = time.monotonic()
    rng = np.random.default_rng(args.seed)
    next_push, pushes = end_settle + args.push_interval, 0
    kill_at = end_settle + args.kill_reference + rng.uniform(0.0, 1.0) if args.kill_reference is not None else None
    while (monitor.sim_time() < end and monitor.mode() == Mode.POLICY
           and not set(runner.exited()) - {"/cmg_reference"}):
        if kill_at is not None and monitor.sim_time() >= kill_at and "killed_at" not in row:
            runner.kill("/cmg_reference")
            row["killed_at"] = monitor.sim_time() - end_settle
        monitor.send_velocity(*(command if monitor.sim_time() >= end_settle else (0.0, 0.0, 0.0)))
        if args.push_velocity > 0 and monitor.sim_time() >= next_push:
            angle = rng.uniform(-np.pi, np.pi)
            monitor.push(args.push_velocity * np.cos(angle), args.push_velocity * np.sin(angle))
            row["push_times"].append(monitor.sim_time() - end_settle)
            next_push, pushes = next_push + args.push_interval, pushes + 1
        monitor.spin_for(0.05)
        if time.monotonic() - wall_start > args.wall_limit:
            raise RuntimeError(f"more than {args.wall_limit} s of wall time")
    monitor.spin_for(0.3)  # the bridge's status with the fault, if any
    run = [s for s in monitor.states if s.stamp >= go]
    segment = [s for s in run if s.stamp >= end_settle]
    odom = np.array([o for o in monitor.odom if end_settle <= o[0] <= end]).reshape(-1, 4)
    trace = np.column_stack([odom[:, 0] - end_settle, odom[:, 1:3], np.unwrap(odom[:, 3])])
    fell, how = monitor.fell()
    damped = next((s.stamp - go for s in run if s.mode == Mode.DAMPING), None)
    measured_from = end_settle + args.ramp_up
    reached = min(monitor.sim_time(), end)
    achieved = (monitor.achieved_velocity(end=reached, window=reached - measured_from)
                if reached - measured_from > 0.5 else np.full(3, np.nan))
    errors = monitor.tracking_error(segment)
    keys = monitor.keybody_error(segment)
    loop = percentiles(monitor.latency_ms(since_stamp=end_settle))
    diag = monitor.diagnostics
    wall = [s.wall for s in run]
    settled_wall = next((s.wall for s in segment), np.inf)
    missed = monitor.missed_ticks(settled_wall, args.control_period)
    row.update({
        "fell": fell, "fall": how, "damped_after_go": damped, "achieved": achieved.tolist(),
        "velocity_error": float(np.hypot(command[0] - achieved[0], command[1] - achieved[1])),
        "yaw_rate_error": float(abs(command[2] - achieved[2])),
        "joint_error": float(np.mean(errors)) if errors.size else float("nan"),
        "keybody_error": float(np.mean(keys)) if keys.size else float("nan"), "pushes": pushes,
        "loop_p50_ms": loop[0], "loop_p99_ms": loop[1], "missed_ticks": missed.count,
        "longest_command_gap_ms": missed.longest_gap * 1e3,
        "late_commands": [[arrival - settled_wall, gap * 1e3] for arrival, gap in missed.late],
        "inference_p50_ms": float(diag.get("inference_p50_ms", "nan")),
        "inference_p99_ms": float(diag.get("inference_p99_ms", "nan")),
        "state_hz": (len(wall) - 1) / (wall[-1] - wall[0]) if len(wall) > 1 else float("nan"),
        "rtf": ((run[-1].stamp - run[0].stamp) / (wall[-1] - wall[0])) if len(wall) > 1 else float("nan"),
    })
    if "killed_at" in row:
        row["final_speed"] = float(np.hypot(*monitor.achieved_velocity(end=reached, window=1.0)[:2]))
    if set(runner.exited()) - ({"/cmg_reference"} if "killed_at" in row else set()):
        row["error"] = f"a node exited: {runner.exited()}"
    return trace


def write_trace(out: Path, rows: list[dict], traces: list[np.ndarray]) -> None:
    """``out``/command_<i>.csv per command and ``out``/paths.png (see the module docstring)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    figure, (paths, headings) = plt.subplots(1, 2, figsize=(12, 5.5))
    for index, (row, trace) in enumerate(zip(rows, traces)):
        np.savetxt(out / f"command_{index}.csv", trace, fmt="%.4f", delimiter=",", header="t,x,y,heading",
                   comments="")
        if len(trace) == 0:
            continue
        label = "vx {:+.2f} vy {:+.2f} yaw {:+.2f}".format(*row["command"]) + (" (fell)" if row.get("fell") else "")
        line, = paths.plot(trace[:, 1] - trace[0, 1], trace[:, 2] - trace[0, 2], label=label)
        headings.plot(trace[:, 0], trace[:, 3] - trace[0, 3], color=line.get_color())
        for t in row["push_times"]:
            k = min(int(np.searchsorted(trace[:, 0], t)), len(trace) - 1)
            paths.plot(trace[k, 1] - trace[0, 1], trace[k, 2] - trace[0, 2], "x", color=line.get_color())
            headings.axvline(t, color=line.get_color(), alpha=0.3, lw=0.8)
    paths.set(title="pelvis path from the command's start (x: pushes)", xlabel="x [m]", ylabel="y [m]")
    paths.set_aspect("equal", adjustable="datalim")
    paths.legend(fontsize=8)
    headings.set(title="heading change", xlabel="seconds since the command started", ylabel="heading [rad]")
    for axis in (paths, headings):
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out / "paths.png", dpi=100)
    plt.close(figure)


def format_row(row: dict) -> str:
    """One table line."""
    c = row["command"]
    if "achieved" not in row:
        return f"{c[0]:5.2f} {c[1]:5.2f} {c[2]:5.2f} | error: {row.get('error')}"
    fell = "no" if not row["fell"] else f"yes {row['damped_after_go']:.1f}s" if row["damped_after_go"] else "yes"
    a = row["achieved"]
    return (f"{c[0]:5.2f} {c[1]:5.2f} {c[2]:5.2f} | {fell:<10} | {a[0]:6.3f} {a[1]:6.3f} {a[2]:6.3f} | "
            f"{row['velocity_error']:6.3f} {row['yaw_rate_error']:6.3f} | {row['joint_error']:7.4f} "
            f"{row['keybody_error']:7.4f} | "
            f"{row['loop_p50_ms']:5.2f} / {row['loop_p99_ms']:6.2f} | {row['inference_p50_ms']:5.3f} / "
            f"{row['inference_p99_ms']:5.3f} | {row['state_hz']:5.1f} {row['rtf']:5.2f}"
            + (f" | missed {row['missed_ticks']} ticks (gap {row['longest_command_gap_ms']:.0f} ms)"
               if row.get("missed_ticks") else "")
            + (f" | reference killed at {row['killed_at']:.2f} s, final speed {row['final_speed']:.3f} m/s"
               if "killed_at" in row else "") + (f" | {row['error']}" if row.get("error") else ""))


HEADER = (f"{'vx':>5} {'vy':>5} {'wz':>5} | {'fell':<10} | {'ach vx':>6} {'vy':>6} {'wz':>6} | {'|dv|':>6} "
          f"{'|dwz|':>6} | {'jnt err':>7} {'key err':>7} | {'loop ms p50/p99':>15} | {'infer ms p50/p99':>15} | "
          f"{'st Hz':>5} {'RTF':>5}")


def markdown_table(rows: list[dict], seconds: float) -> str:
    """The models/README.md table: per command, falls, velocity errors, joint and key-body tracking errors."""
    lines = [f"| vx | vy | yaw rate | falls in {seconds:g} s | velocity error [m/s] | yaw-rate error [rad/s] | "
             "joint error [rad] | key-body error [m] | pushes |", "|" + "---|" * 9]
    for row in rows:
        c = row["command"]
        if "achieved" not in row:
            lines.append(f"| {c[0]:+.2f} | {c[1]:+.2f} | {c[2]:+.2f} | error: {row.get('error')} |" + " |" * 5)
            continue
        damped = row["damped_after_go"]
        fell = "0" if not row["fell"] else f"1 ({damped:.1f} s after go)" if damped else "1"
        lines.append(f"| {c[0]:+.2f} | {c[1]:+.2f} | {c[2]:+.2f} | {fell} | {row['velocity_error']:.3f} | "
                     f"{row['yaw_rate_error']:.3f} | {row['joint_error']:.3f} | {row['keybody_error']:.3f} | "
                     f"{row['pushes']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--policy", default=DEFAULT_POLICY)
    parser.add_argument("--cmg", default=DEFAULT_CMG)
    parser.add_argument("--toy", action="store_true", help="toy policy + toy CMG (test fixtures)")
    parser.add_argument("--commands", nargs="+", type=parse_command,
                        default=[(0.0, 0.0, 0.0), (0.5, 0.0, 0.0), (1.0, 0.0, 0.0), (0.3, 0.0, 0.5)],
                        help="vx,vy,yaw_rate commands (default: 0,0,0 0.5,0,0 1.0,0,0 0.3,0,0.5)")
    parser.add_argument("--seconds", type=float, default=10.0, help="simulated seconds per command")
    parser.add_argument("--settle", type=float, default=1.0, help="simulated seconds standing after go")
    parser.add_argument("--ramp-up", type=float, default=2.0,
                        help="seconds after the command starts before the velocity is measured")
    parser.add_argument("--gantry", choices=["on", "off"], default="off", help="keep the virtual gantry after go")
    parser.add_argument("--clock-mode", choices=["lockstep", "realtime"], default="lockstep",
                        help="bridge clock: lockstep (deterministic, as fast as the loop) or realtime (50 Hz wall)")
    parser.add_argument("--push-velocity", type=float, default=0.0,
                        help="push the pelvis this fast [m/s] every --push-interval s of the command (0: no pushes)")
    parser.add_argument("--push-interval", type=float, default=5.0, help="simulated seconds between pushes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the push directions and the reference kill time")
    parser.add_argument("--kill-reference", type=float, metavar="S",
                        help="SIGKILL cmg_reference S (+ a seeded fraction of a) simulated seconds into each command")
    parser.add_argument("--param", nargs="+", action="extend", default=[], metavar="NODE:NAME=VALUE",
                        help="node parameters over the launch defaults, e.g. cmg_reference:heading_hold_gain=0.0")
    parser.add_argument("--json", default="", help="also write the rows to this JSON file")
    parser.add_argument("--markdown", default="", help="also write the models/README.md table to this file")
    parser.add_argument("--trace", type=Path, help="also write per-command pelvis traces and paths.png here")
    parser.add_argument("--wall-limit", type=float, default=900.0, help="wall seconds allowed per command")
    args = parser.parse_args(protect_negative_commands(sys.argv[1:] if argv is None else argv))
    policy, cmg = Path(args.policy).expanduser().resolve(), Path(args.cmg).expanduser().resolve()
    if not args.toy and missing_models(policy, cmg):
        for line in missing_models(policy, cmg):
            print(f"bench_closed_loop: {line}", file=sys.stderr)
        return 1
    from twist_bringup.closed_loop import LoopMonitor
    from twist_bringup.launch_graph import collect_overrides, override_parameters, parse_override
    from twist_bringup.sim_session import headless_graph, monitor_session, write_toy_models
    from twist_core.robot import load_robot_spec

    spec = load_robot_spec()
    work = tempfile.TemporaryDirectory(prefix="twist_bench_")
    if args.toy:
        policy, cmg = write_toy_models(Path(work.name), spec)
    try:
        overrides = collect_overrides(args.param)
        args.param = [parse_override(p) for p in args.param]
    except ValueError as error:
        parser.error(str(error))
    graph = headless_graph(clock_mode=args.clock_mode, reference="cmg", cmg_model=str(cmg), policy_file=str(policy),
                           bridge_parameters={"release_gantry_on_go": args.gantry == "off"})
    try:
        graph = override_parameters(graph, overrides)
    except ValueError as error:
        parser.error(str(error))
    from twist_core.policy_runtime import PolicyModelError, PolicyRuntime

    try:
        args.control_period = 1.0 / PolicyRuntime(policy, spec).control_rate
    except PolicyModelError as error:
        print(f"bench_closed_loop: {error}", file=sys.stderr)
        return 1
    print(f"policy {policy}{' (toy)' if args.toy else ''}; CMG {cmg}; gantry after go {args.gantry}; "
          f"{args.seconds:g} s per command after {args.settle:g} s standing; {args.clock_mode}"
          + (f"; pushes of {args.push_velocity:g} m/s every {args.push_interval:g} s" if args.push_velocity > 0
             else "") + "".join(f"; {node}:{name}={value}" for node, name, value in args.param), flush=True)
    print(HEADER, flush=True)
    rows, traces = [], []
    with monitor_session(lambda: LoopMonitor(spec, name="bench_monitor")) as monitor:
        try:
            for index, command in enumerate(args.commands):
                row, trace = run_command(monitor, graph, command, args, Path(work.name) / f"logs_{index}")
                rows.append(row)
                traces.append(trace)
                print(format_row(row), flush=True)
        except KeyboardInterrupt:
            print("interrupted")
    if args.markdown:
        Path(args.markdown).write_text(markdown_table(rows, args.seconds) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"policy": str(policy), "cmg": str(cmg), "toy": args.toy,
                                               "gantry": args.gantry, "parameters": overrides, "rows": rows},
                                              indent=1, default=float))
    if args.trace:
        write_trace(args.trace, rows, traces)
    work.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
