#!/usr/bin/env python3
r"""Benchmark whole-body tracking of motion clips through the ROS 2 nodes: bridge + mocap_reference + policy.

For each clip a fresh graph (twist_bringup.graph_runner, every node its own process; the MuJoCo bridge in lockstep,
the virtual gantry released at go): start, go; mocap_reference starts the clip when the bridge hands the robot to
the policy (aligned to the robot, blended in from its joints, out to standing), and the run ends ``--after``
seconds after the reference has returned to standing, at a fall, or at ``--wall-limit``. A clip that
mocap_reference refuses to start (its first frame too far from the standing robot: a part cut from the middle of a
take can start with an arm raised) is a row with an error and the node's reason, after 2 simulated seconds
without it; with ``--trim-start`` such a clip plays from its first frame that passes the node's start check from
the standing pose (with a margin: 0.1 rad, 0.02 m, 0.05 rad), and its row says from when. One row per clip:

- fell: a TILT/HEIGHT fault of the bridge or the pelvis below 0.5 m, and when (simulated seconds after go);
- played: simulated seconds of the clip's reference (blends included) tracked before the end or the fall, of
  the clip's total;
- joint error: RMS over the 23 policy joints of reference - measured, mean over the clip's reference;
- key-body error: mean distance of the reference's key bodies from the measured ones (relative to the pelvis, in
  its heading frame), mean over the clip;
- root drift: horizontal distance of the pelvis from the reference's, mean and at the end of the clip.

A summary line follows: clips played to the end without a fall, the means of the errors. ``--markdown`` writes
the table for models/README.md, ``--json`` every number.

    python scripts/bench_motions.py --motions data/g1_moves/validation.yaml         # a prepared split
    python scripts/bench_motions.py --motions clip.csv --fps 60 --policy runs/student/policy.onnx
    python scripts/bench_motions.py --motions data/g1_moves/train.yaml --trim-start  # parts cut mid-take
    (after `source scripts/env.sh`; motions: files any motion-tool format, directories, YAML motion lists)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from twist_bringup.sim_session import DEFAULT_POLICY
from twist_core.model import standing_height
from twist_core.motion import save_motion
from twist_core.motion_formats import read_motion
from twist_core.robot import RobotSpec
from twist_reference.clip_session import RobotPose, StartLimits, first_startable_frame, start_problem

MOTION_SUFFIXES = (".npz", ".pkl", ".csv")
START_SECONDS = 2.0  # simulated seconds after go within which the clip's reference must have started
START_MARGIN = (0.1, 0.02, 0.05)  # --trim-start: the start check's limits less these (rad, m, rad)
START_PARAMETERS = ("max_start_joint_error", "max_start_height_error", "max_start_tilt")  # mocap_reference's


def clip_files(inputs: list[str]) -> list[Path]:
    """Clip files from files, directories (every motion file) and YAML motion lists (their ``file`` entries)."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.suffix in (".yaml", ".yml"):
            content = yaml.safe_load(item.read_text()) or {}
            root = item.parent / content.get("root_path", ".")
            files += [root / entry["file"] for entry in content.get("motions", [])]
        elif item.is_dir():
            files += sorted(p for p in item.iterdir() if p.suffix in MOTION_SUFFIXES)
        else:
            files.append(item)
    return files


def play_until_done(monitor, runner, args, go: float, wall_start: float) -> None:
    """Spin until ``--after`` seconds after the clip's reference returned to standing, a fault, or a node's exit.

    Raises RuntimeError when the clip never started (the node's reason) or past ``--wall-limit``.
    """
    from twist_core.safety import Mode
    from twist_msgs.msg import MotionReference

    ended_at = None
    while not runner.exited() and monitor.mode() == Mode.POLICY:
        monitor.spin_for(0.05)
        sources = [s.reference_source for s in monitor.states[-3:]]
        played = any(s.reference_source == MotionReference.SOURCE_MOCAP for s in monitor.states)
        if ended_at is None and played and all(s == MotionReference.SOURCE_HOLD for s in sources):
            ended_at = monitor.sim_time()
        if ended_at is not None and monitor.sim_time() >= ended_at + args.after:
            return
        if not played and monitor.sim_time() > go + START_SECONDS:
            reason = refusal(runner.logs.get("/mocap_reference"), args.trim_start)
            raise RuntimeError(f"the clip never started: {reason}")
        if time.monotonic() - wall_start > args.wall_limit:
            raise RuntimeError(f"more than {args.wall_limit} s of wall time")


def run_clip(monitor, graph, args, log_dir: Path) -> dict:
    """One fresh graph playing one clip; the row's numbers."""
    from twist_bringup.closed_loop import graph_session
    from twist_bringup.sim_session import graph_runner
    from twist_core.safety import Mode
    from twist_msgs.msg import MotionReference

    row: dict = {}
    go, end = monitor.sim_time(), np.inf
    fell, how = False, ""
    try:
        with graph_session(monitor, graph_runner(graph, log_dir)) as runner:
            go, wall_start = monitor.sim_time(), time.monotonic()
            try:
                play_until_done(monitor, runner, args, go, wall_start)
            except RuntimeError as exc:
                row["error"] = str(exc)
            monitor.spin_for(0.3)  # the bridge's status with the fault, if any
            # judged before the session damps the bridge: the robot sags when damped, which is no fall
            (fell, how), end = monitor.fell(), monitor.sim_time()
            if runner.exited() and not row.get("error"):
                row["error"] = f"a node exited: {runner.exited()}"
    except (RuntimeError, TimeoutError) as exc:
        row["error"] = str(exc)
    run = [s for s in monitor.states if go <= s.stamp <= end]
    fall_at = next((s.stamp - go for s in run if s.mode == Mode.DAMPING or s.height < 0.5), None)
    tracked = [s for s in run if fall_at is None or s.stamp - go <= fall_at]  # what the policy was tracking
    clip = [s for s in tracked if s.reference_source == MotionReference.SOURCE_MOCAP]
    stood_after = bool(clip) and any(s.reference_source == MotionReference.SOURCE_HOLD for s in run
                                     if s.stamp > clip[-1].stamp)
    joints, keys, drift = monitor.tracking_error(clip), monitor.keybody_error(clip), monitor.root_drift(clip)
    row.update({
        "fell": fell, "fall": how, "fall_after_go": fall_at,
        "played": (clip[-1].stamp - clip[0].stamp) if len(clip) > 1 else 0.0,
        "complete": stood_after and not fell,
        "joint_error": float(np.mean(joints)) if joints.size else float("nan"),
        "keybody_error": float(np.mean(keys)) if keys.size else float("nan"),
        "root_drift": float(np.mean(drift)) if drift.size else float("nan"),
        "final_drift": float(drift[-1]) if drift.size else float("nan"),
    })
    return row


def refusal(log: Path | None, trimmed: bool) -> str:
    """Why ``mocap_reference`` did not start its clip, from its log (the graph runner's; its last "refused" line).

    ``trimmed``: the bench ran with ``--trim-start`` (so no frame of the clip passes the check from standing).
    """
    lines = [line for line in log.read_text(errors="replace").splitlines() if " refused: " in line] \
        if log is not None and log.is_file() else []
    if not lines:
        return "no reason in mocap_reference's log"
    hint = "; --trim-start found no frame of it that passes the check from standing" if trimmed else "; or --trim-start"
    return (lines[-1].split("]: ", 1)[-1] + " (the node's start check: --param mocap_reference:max_start_joint_error"
            "=..., max_start_height_error=..., max_start_tilt=..." + hint + ")")


def clip_to_play(path: Path, spec: RobotSpec, fps: float | None, quat_order: str, limits: StartLimits | None,
                 work: Path) -> tuple[Path, float, float]:
    """The file to play for ``path``, its seconds with the node's default blends (1 s in, 1 s out), its start [s].

    ``limits`` (mocap_reference's start check, or None to play every clip as it is): a clip whose first frame fails
    the check from the standing pose plays from its first frame that passes it with :data:`START_MARGIN` to spare
    (or, if none does, without), written to ``work``; a clip without such a frame plays as it is (and is refused).
    """
    motion = read_motion(path, spec, fps=fps, quat_order=quat_order)
    if limits is not None:
        standing = RobotPose(np.zeros(2), 0.0, spec.default_pose.copy(), standing_height(spec, spec.default_pose),
                             0.0)
        tighter = StartLimits(*(max(value - margin, 0.0) for value, margin in
                                zip(dataclasses.astuple(limits), START_MARGIN)))
        start = None
        if start_problem(spec, motion, standing, limits):
            start = first_startable_frame(spec, motion, standing, tighter)
            start = first_startable_frame(spec, motion, standing, limits) if start is None else start
        if start is not None and start < motion.num_frames - 1:
            motion = motion.from_frame(start)
            path = save_motion(motion, work / f"{path.stem}_from_{start}.npz")
            return path, motion.duration + 2.0, start / motion.fps
    return path, motion.duration + 2.0, 0.0


def node_parameter(overrides: dict[str, dict[str, Any]], name: str) -> Any:
    """mocap_reference's parameter ``name``: its ``--param`` override, or its default."""
    from twist_reference.mocap_reference import PARAMETERS

    return overrides.get("mocap_reference", {}).get(name, PARAMETERS[name][0])


HEADER = (f"{'clip':<40} {'fell':>10} {'played':>13} {'joint err':>9} {'key err':>8} {'drift':>6} {'end':>6}")


def clip_label(row: dict) -> str:
    """The clip's name, and from when it played where ``--trim-start`` cut its head."""
    return row["clip"] + (f" (from {row['from_s']:.1f} s)" if row.get("from_s") else "")


def format_row(row: dict) -> str:
    """One table line."""
    fell = f"at {row['fall_after_go']:.1f} s" if row["fell"] and row["fall_after_go"] is not None else \
        ("yes" if row["fell"] else "no")
    text = (f"{clip_label(row)[-40:]:<40} {fell:>10} {row['played']:6.1f}/{row['seconds']:5.1f} s "
            f"{row['joint_error']:9.3f} {row['keybody_error']:8.3f} {row['root_drift']:6.2f} {row['final_drift']:6.2f}")
    return text + (f"  ERROR: {row['error']}" if row.get("error") else "")


def summary(rows: list[dict]) -> dict:
    """Clips played to the end without a fall, and the mean errors."""
    valid = [r for r in rows if not r.get("error")]
    mean = lambda key: float(np.nanmean([r[key] for r in valid])) if valid else float("nan")  # noqa: E731
    return {"clips": len(rows), "complete": sum(r["complete"] for r in valid), "falls": sum(r["fell"] for r in valid),
            "joint_error": mean("joint_error"), "keybody_error": mean("keybody_error"),
            "root_drift": mean("root_drift"), "errors": len(rows) - len(valid)}


def summary_line(s: dict) -> str:
    """The summary as one line."""
    share = s["complete"] / s["clips"] if s["clips"] else float("nan")
    return (f"{s['complete']}/{s['clips']} clips played to the end without a fall ({share:.0%}), {s['falls']} falls; "
            f"mean joint error {s['joint_error']:.3f} rad, key-body error {s['keybody_error']:.3f} m, root drift "
            f"{s['root_drift']:.2f} m" + (f"; {s['errors']} runs failed to run" if s["errors"] else ""))


def markdown_table(rows: list[dict], s: dict) -> str:
    """The models/README.md table."""
    lines = ["| clip | fell | played [s] | joint error [rad] | key-body error [m] | root drift mean / end [m] |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        fell = f"at {r['fall_after_go']:.1f} s" if r["fell"] and r["fall_after_go"] is not None else \
            ("yes" if r["fell"] else "no")
        lines.append(f"| {clip_label(r)} | {fell} | {r['played']:.1f} / {r['seconds']:.1f} | {r['joint_error']:.3f} | "
                     f"{r['keybody_error']:.3f} | {r['root_drift']:.2f} / {r['final_drift']:.2f} |")
    lines += ["", summary_line(s)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--policy", default=DEFAULT_POLICY, help=f"exported student policy (default {DEFAULT_POLICY})")
    parser.add_argument("--motions", nargs="+", required=True, help="clip files, directories or YAML motion lists")
    parser.add_argument("--fps", type=float, default=0.0, help="frame rate of clips that carry none (CSV), else 0")
    parser.add_argument("--after", type=float, default=2.0, help="simulated seconds standing after the clip")
    parser.add_argument("--param", nargs="+", action="extend", default=[], metavar="NODE:NAME=VALUE",
                        help="node parameters over the launch defaults, e.g. mocap_reference:blend_in=2.0")
    parser.add_argument("--json", default="", help="also write the rows to this JSON file")
    parser.add_argument("--markdown", default="", help="also write the models/README.md table to this file")
    parser.add_argument("--wall-limit", type=float, default=1800.0, help="wall seconds allowed per clip")
    parser.add_argument("--trim-start", action="store_true",
                        help="a clip the start check refuses from standing plays from its first frame it accepts")
    args = parser.parse_args(argv)
    policy = Path(args.policy).expanduser().resolve()
    if not policy.is_file():
        print(f"bench_motions: no policy file {policy}", file=sys.stderr)
        return 1
    from twist_bringup.closed_loop import LoopMonitor
    from twist_bringup.launch_graph import collect_overrides, override_parameters
    from twist_bringup.sim_session import headless_graph, monitor_session
    from twist_core.robot import load_robot_spec

    try:
        overrides = collect_overrides(args.param)
    except ValueError as exc:
        parser.error(str(exc))
    work = tempfile.TemporaryDirectory(prefix="twist_bench_motions_")
    spec = load_robot_spec()
    try:
        limits = StartLimits(*(float(node_parameter(overrides, name)) for name in START_PARAMETERS)) \
            if args.trim_start else None
        quat_order = str(node_parameter(overrides, "quat_order"))
        clips = [(c, *clip_to_play(c, spec, args.fps or None, quat_order, limits, Path(work.name)))
                 for c in clip_files(args.motions)]
    except (OSError, ValueError, KeyError, yaml.YAMLError) as exc:
        print(f"bench_motions: {exc}", file=sys.stderr)
        return 1
    print(f"policy {policy}; {len(clips)} clips; lockstep, gantry released at go", flush=True)
    print(HEADER, flush=True)
    rows = []
    with monitor_session(lambda: LoopMonitor(spec, name="bench_motions_monitor")) as monitor:
        try:
            for index, (clip, file, total, start) in enumerate(clips):
                graph = headless_graph(clock_mode="lockstep", reference="mocap", motion_file=str(file.resolve()),
                                       motion_fps=args.fps, policy_file=str(policy))
                try:
                    graph = override_parameters(graph, overrides)
                except ValueError as exc:
                    parser.error(str(exc))
                row = {"clip": str(clip), "seconds": total, "from_s": start,
                       **run_clip(monitor, graph, args, Path(work.name) / str(index))}
                rows.append(row)
                print(format_row(row), flush=True)
        except KeyboardInterrupt:
            print("interrupted")
    totals = summary(rows)
    print(summary_line(totals), flush=True)
    if args.markdown:
        Path(args.markdown).write_text(markdown_table(rows, totals) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"policy": str(policy), "rows": rows, "summary": totals}, indent=1,
                                              default=float))
    work.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
