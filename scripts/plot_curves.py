#!/usr/bin/env python3
"""Training curves as one PNG from a run's TensorBoard event files (a resumed run's files are joined), or from
the small scalars CSV committed next to a shipped model.

    python scripts/plot_curves.py --logdir runs/teacher_v1 --out models/teacher/training_curves.png
    python scripts/plot_curves.py --logdir runs/teacher_v1 --list      # the scalar tags there are
    python scripts/plot_curves.py --logdir runs/teacher --export-csv models/teacher/scalars.csv   # for committing
    python scripts/plot_curves.py --csv models/teacher/scalars.csv --out /tmp/teacher_curves.png

Every ``events.out.tfevents.*`` file under the given directories is read; where several files hold the same
iteration of a tag (a run resumed from an earlier checkpoint), the newest file wins. ``--tags`` picks the panels
(default: episode length, reward, joint / key-body / root-velocity tracking errors, gantry level, action std);
``--export-csv`` writes those tags as one CSV (a column per tag, a row per iteration, empty where a tag has no
value), a few hundred kB where the event files of a long run are megabytes.
"""

from __future__ import annotations

import argparse
import csv
import math
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


def write_csv(scalars: dict[str, dict[int, float]], tags: list[str], out: Path) -> Path:
    """``tags`` of ``scalars`` as CSV: ``step`` then a column per tag present, values with 6 significant digits."""
    present = [t for t in tags if scalars.get(t)]
    if not present:
        raise SystemExit(f"plot_curves: none of the tags {tags} has data")
    steps = sorted({s for t in present for s in scalars[t]})
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", *present])
        for step in steps:
            writer.writerow([step, *(f"{scalars[t][step]:.6g}" if step in scalars[t] else "" for t in present)])
    return out


def read_csv(path: Path) -> dict[str, dict[int, float]]:
    """Scalars from :func:`write_csv`'s format; anything else is a clear error (SystemExit)."""
    scalars: dict[str, dict[int, float]] = {}
    with Path(path).open(newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if not header or header[0] != "step" or len(header) < 2:
            raise SystemExit(f"plot_curves: {path} is not a scalars CSV (first column 'step', then tags)")
        for line, row in enumerate(rows, start=2):
            try:
                step = int(row[0])
                values = [(tag, float(text)) for tag, text in zip(header[1:], row[1:], strict=True) if text]
            except (ValueError, IndexError) as exc:
                raise SystemExit(f"plot_curves: {path} line {line}: {exc}") from None
            for tag, value in values:
                if math.isfinite(value):
                    scalars.setdefault(tag, {})[step] = value
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
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--logdir", type=Path, nargs="+", help="directories with event files")
    source.add_argument("--csv", type=Path, help="a scalars CSV written by --export-csv")
    parser.add_argument("--out", type=Path, help="PNG to write")
    parser.add_argument("--export-csv", type=Path, help="write the tags' scalars as CSV instead of a plot")
    parser.add_argument("--tags", nargs="+", default=list(DEFAULT_TAGS), help="scalar tags, one panel each")
    parser.add_argument("--title", default="", help="figure title (default: the first log directory)")
    parser.add_argument("--list", action="store_true", help="print the scalar tags and their last step, then exit")
    args = parser.parse_args(argv)
    if args.csv is not None:
        if not args.csv.is_file():
            print(f"plot_curves: no file {args.csv}", file=sys.stderr)
            return 2
        scalars = read_csv(args.csv)
    else:
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
    if args.export_csv is not None:
        print(write_csv(scalars, args.tags, args.export_csv))
        return 0
    if args.out is None:
        parser.error("--out is required unless --list or --export-csv")
    print(plot(scalars, args.tags, args.title or str(args.csv or args.logdir[0]), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
