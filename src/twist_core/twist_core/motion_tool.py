"""motion-tool: inspect, validate, convert, resample and plot motion files.

    motion-tool info FILE [--fps HZ]           what the file holds
    motion-tool validate FILE [--strict]       load it with every check; --strict also fails on joint-limit excess
    motion-tool convert IN OUT [--to FORMAT] [--out-fps 50]   any format -> 50 Hz canonical (or another format)
    motion-tool resample IN OUT [--out-fps 50] change the frame rate of a motion
    motion-tool plot FILE [-o FILE.png]        joint curves and the root path as a PNG

    motion-tool info clip.csv --fps 60         a G1 motion CSV (no frame rate in the file: --fps is required)
    motion-tool convert clip.csv clip.npz --fps 60 --quat-order wxyz

Formats: canonical (.npz), amass_g1 (.npz), twist (.pkl, 23 joints), gmr (.pkl, 29 joints), mjlab (.npz),
csv (G1 motion CSV: root xyz, quaternion xyzw, 29 joints, no header; LAFAN1 retargets are 30 fps, G1 Moves 60);
detected from the content (CSV from the .csv suffix). --fps is the input's frame rate: required for a CSV, a
check for files that carry one. Exit status: 0 on success, 1 when the file is invalid.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

from twist_core.motion import STANDARD_FPS, Motion, MotionError, joint_limit_report, resample
from twist_core.motion_formats import FORMATS, QUAT_ORDERS, detect_format, read_motion, write_motion
from twist_core.robot import RobotSpec, load_robot_spec


def describe(motion: Motion, spec: RobotSpec, fmt: str) -> str:
    """A human-readable summary of a motion."""
    path_length = float(np.sum(np.linalg.norm(np.diff(motion.root_pos[:, :2], axis=0), axis=1)))
    speed = motion.root_lin_vel_local()[:, :2]
    source_fps = f" (source {motion.metadata['source_fps']:g})" if "source_fps" in motion.metadata else ""
    lines = [
        f"format        {fmt}",
        f"fps           {motion.fps:g}{source_fps}",
        f"frames        {motion.num_frames} ({motion.duration:.2f} s)",
        f"joints        {len(motion.joint_names)} (motor order)",
        f"root height   {motion.root_pos[:, 2].min():.3f} .. {motion.root_pos[:, 2].max():.3f} m",
        f"root path     {path_length:.2f} m, mean forward speed {speed[:, 0].mean():.2f} m/s",
        f"key bodies    {', '.join(motion.key_body_names)}",
        f"command       {'yes' if motion.command is not None else 'no'}",
    ]
    report = joint_limit_report(motion, spec)
    lines.append(f"joint limits  {'all within range' if not report else f'{len(report)} joint(s) outside'}")
    lines += [f"  {line}" for line in report]
    if motion.metadata:
        lines.append(f"metadata      {motion.metadata}")
    return "\n".join(lines)


def plot(motion: Motion, spec: RobotSpec, output: Path) -> Path:
    """Write a PNG: joint positions by body part, and the root path seen from above."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(motion.num_frames) / motion.fps
    groups = {"left leg": range(0, 6), "right leg": range(6, 12), "waist": range(12, 15),
              "left arm": range(15, 22), "right arm": range(22, 29)}
    fig, axes = plt.subplots(2, 3, figsize=(15, 8), constrained_layout=True)
    for ax, (title, idx) in zip(axes.flat, groups.items()):
        for i in idx:
            ax.plot(t, motion.joint_pos[:, i], label=spec.joint_names[i].removesuffix("_joint"))
        ax.set_title(title)
        ax.set_xlabel("time [s]")
        ax.set_ylabel("position [rad]")
        ax.legend(fontsize=6, loc="upper right")
    ax = axes.flat[5]
    ax.plot(motion.root_pos[:, 0], motion.root_pos[:, 1], "k-")
    ax.plot(*motion.root_pos[0, :2], "go", label="start")
    ax.plot(*motion.root_pos[-1, :2], "rs", label="end")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title("root path (top view)")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.legend(fontsize=8)
    fig.suptitle(f"{motion.metadata.get('source', '')}  {motion.fps:g} fps, {motion.duration:.1f} s")
    fig.savefig(output, dpi=80)
    plt.close(fig)
    return output


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motion-tool", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="what the file holds")
    info.add_argument("file", type=Path)
    validate = sub.add_parser("validate", help="load with every check")
    validate.add_argument("file", type=Path)
    validate.add_argument("--strict", action="store_true", help="fail on joint-limit excess too")
    commands = [info, validate]
    for name, text in (("convert", "convert to canonical (or --to FORMAT) at --out-fps"), ("resample", "change fps")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("input", type=Path)
        cmd.add_argument("output", type=Path)
        cmd.add_argument("--out-fps", type=float, default=STANDARD_FPS, help="output frame rate (default 50)")
        if name == "convert":
            cmd.add_argument("--to", choices=FORMATS, default="canonical", help="output format")
            cmd.add_argument("--from", dest="source_format", choices=FORMATS, help="input format (default: detect)")
        commands.append(cmd)
    plot_cmd = sub.add_parser("plot", help="PNG of joint curves and the root path")
    plot_cmd.add_argument("file", type=Path)
    plot_cmd.add_argument("-o", "--output", type=Path, help="PNG path (default: FILE with .png)")
    commands.append(plot_cmd)
    for cmd in commands:
        cmd.add_argument("--fps", type=float, help="the input's frame rate [Hz]: required for a CSV (which does not "
                                                   "carry one); for other files a check")
        cmd.add_argument("--quat-order", choices=QUAT_ORDERS, default="xyzw",
                         help="a CSV's root quaternion order (default xyzw)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = _parser().parse_args(argv)
    spec = load_robot_spec()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            source = args.file if hasattr(args, "file") else args.input
            fmt = getattr(args, "source_format", None) or detect_format(source)
            motion = read_motion(source, spec, fmt, fps=args.fps, quat_order=args.quat_order)
        for warning in caught:
            print(f"warning: {warning.message}", file=sys.stderr)
        if args.command == "info":
            print(describe(motion, spec, fmt))
        elif args.command == "validate":
            report = joint_limit_report(motion, spec)
            for line in report:
                print(f"joint limit: {line}")
            print(f"{source}: valid {fmt} motion, {motion.num_frames} frames at {motion.fps:g} fps"
                  + (f", {len(report)} joint(s) beyond limits" if report else ""))
            return 1 if (args.strict and report) else 0
        elif args.command in ("convert", "resample"):
            out = resample(motion, spec, args.out_fps) if motion.fps != args.out_fps else motion
            if not args.output.parent.is_dir():
                raise MotionError(f"{args.output.parent}: no such directory for the output")
            to = getattr(args, "to", "canonical")
            written = write_motion(out, args.output, spec, to)
            print(f"wrote {written} ({to}): {out.num_frames} frames at {out.fps:g} fps")
        elif args.command == "plot":
            print(f"wrote {plot(motion, spec, args.output or source.with_suffix('.png'))}")
    except MotionError as exc:
        print(f"motion-tool: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
