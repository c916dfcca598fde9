#!/usr/bin/env python3
"""Training curves as one PNG from a run's TensorBoard event files (a resumed run's files are joined).

    python scripts/plot_curves.py --logdir runs/teacher_v1 models/teacher/tb --out models/teacher/training_curves.png
    python scripts/plot_curves.py --logdir runs/teacher_v1 --list      # the scalar tags there are

Every ``events.out.tfevents.*`` file under the given directories is read; where several files hold the same
iteration of a tag (a run resumed from an earlier checkpoint), the newest file wins. ``--tags`` picks the panels
(default: episode length, reward, joint / key-body / root-velocity tracking errors, gantry level, action std).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_TAGS = ("Train/mean_episode_length", "Train/mean_reward", "Tracking/joint_error_rad",
                "Tracking/keybody_error_m", "Tracking/root_vel_error_mps", "Curriculum/assist_level",
                "Policy/mean_std")


def event_files(logdirs: list[Path]) -> list[Path]:
    """Event files under ``logdirs``, oldest first (the file name carries its creation time)."""
    files = [f for d in logdirs for f in Path(d).rglob("events.out.tfevents.*")]
    return sorted(files, key=lambda f: (int(f.name.split(".")[3]), str(f)))


def read_scalars(files: list[Path]) -> dict[str, dict[int, float]]:
    """Scalars as ``{tag: {step: value}}``; a later file overrides an earlier one at the same step."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars: dict[str, dict[int, float]] = {}
    for path in files:
        events = EventAccumulator(str(path), size_guidance={"scalars": 0})
        events.Reload()
        for tag in events.Tags()["scalars"]:
            scalars.setdefault(tag, {}).update({e.step: e.value for e in events.Scalars(tag)})
    return scalars


def plot(scalars: dict[str, dict[int, float]], tags: list[str], title: str, out: Path) -> Path:
    """A grid with one panel per tag (tags without data are left out)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [t for t in tags if scalars.get(t)]
    if not present:
        raise SystemExit(f"plot_curves: none of the tags {tags} has data")
    columns = min(3, len(present))
    rows = (len(present) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.8 * rows), constrained_layout=True,
                             squeeze=False)
    for ax in axes.flat[len(present):]:
        ax.axis("off")
    for ax, tag in zip(axes.flat, present):
        steps = sorted(scalars[tag])
        ax.plot(steps, [scalars[tag][s] for s in steps], lw=1.0)
        ax.set_title(tag, fontsize=10)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logdir", type=Path, nargs="+", required=True, help="directories with event files")
    parser.add_argument("--out", type=Path, help="PNG to write")
    parser.add_argument("--tags", nargs="+", default=list(DEFAULT_TAGS), help="scalar tags, one panel each")
    parser.add_argument("--title", default="", help="figure title (default: the first log directory)")
    parser.add_argument("--list", action="store_true", help="print the scalar tags and their last step, then exit")
    args = parser.parse_args(argv)
    files = event_files(args.logdir)
    if not files:
        print(f"plot_curves: no event files under {', '.join(map(str, args.logdir))}", file=sys.stderr)
        return 2
    scalars = read_scalars(files)
    if args.list:
        for tag in sorted(scalars):
            last = max(scalars[tag])
            print(f"{tag:<48} {len(scalars[tag]):>6} points, last step {last}: {scalars[tag][last]:.4g}")
        return 0
    if args.out is None:
        parser.error("--out is required unless --list")
    print(plot(scalars, args.tags, args.title or str(args.logdir[0]), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
