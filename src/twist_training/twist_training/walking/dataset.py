"""walk-dataset: build a locomotion dataset with the walking pattern generator.

    walk-dataset --out data/walk --clips 200 --seconds 10 --seed 0 --workers 2
    walk-dataset --out /tmp/walks --seconds 8 --workers 1 --command 1.5 0 0 --command 0 0 1.5   # single walks

Each clip follows a random command timeline: 1 s of standing, then segments of 3-5 s that each hold one command
(standing, or a velocity inside the command envelope, often along a single axis), so starts, stops and changes
between commands are all covered. Clips are canonical 50 Hz motion files (`clip_0000.npz`, ...) with the
per-frame command; `summary.json` holds every clip's quality and the dataset's pass rates, `commands.png` the
command histograms. The same seed gives the same dataset, whatever the number of workers. With ``--command``
(repeatable), each clip is instead one single walk: 1 s of standing, then that command (vx vy yaw-rate) to the
end; a table of each walk's quality is printed as well.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

from twist_core.motion import save_motion
from twist_core.robot import load_robot_spec


@dataclasses.dataclass(frozen=True)
class CommandRanges:
    """The command envelope: each axis within its range and (vx/vx_lim)^2 + (vy/vy)^2 + (wz/wz)^2 <= 1."""

    vx_min: float = -0.5
    vx_max: float = 1.5
    vy_max: float = 0.5
    yaw_rate_max: float = 1.5
    stand_probability: float = 0.15
    single_axis_probability: float = 0.4
    segment: tuple[float, float] = (3.0, 5.0)

    def clip(self, command: np.ndarray) -> np.ndarray:
        """Scale a command into the envelope (keeps its direction)."""
        vx_limit = self.vx_max if command[0] >= 0 else -self.vx_min
        norm = np.sqrt((command[0] / vx_limit) ** 2 + (command[1] / self.vy_max) ** 2
                       + (command[2] / self.yaw_rate_max) ** 2)
        return command / norm if norm > 1.0 else command


def sample_command(rng: np.random.Generator, ranges: CommandRanges) -> np.ndarray:
    """One segment's command."""
    if rng.random() < ranges.stand_probability:
        return np.zeros(3)
    command = np.array([rng.uniform(ranges.vx_min, ranges.vx_max), rng.uniform(-ranges.vy_max, ranges.vy_max),
                        rng.uniform(-ranges.yaw_rate_max, ranges.yaw_rate_max)])
    if rng.random() < ranges.single_axis_probability:
        keep = rng.integers(3)
        command = np.where(np.arange(3) == keep, command, 0.0)
    return ranges.clip(command)


def sample_timeline(rng: np.random.Generator, seconds: float, fps: float, ranges: CommandRanges) -> np.ndarray:
    """A (T, 3) command timeline: standing for 1 s, then random constant segments."""
    n = int(round(seconds * fps)) + 1
    command = np.zeros((n, 3))
    k = int(round(1.0 * fps))
    while k < n:
        length = int(round(rng.uniform(*ranges.segment) * fps))
        command[k:k + length] = sample_command(rng, ranges)
        k += length
    return command


def single_walk(command: np.ndarray, seconds: float, fps: float) -> np.ndarray:
    """A (T, 3) command timeline: standing for 1 s, then ``command`` to the end."""
    timeline = np.zeros((int(round(seconds * fps)) + 1, 3))
    timeline[int(round(1.0 * fps)):] = command
    return timeline


def clip_timeline(index: int, seed: int, seconds: float, fps: float, ranges: CommandRanges,
                  walks: list[tuple[float, float, float]] | None) -> np.ndarray:
    """The command timeline of clip ``index``: the index-th single walk, or a random one for the seed."""
    if walks:
        return single_walk(np.asarray(walks[index], dtype=np.float64), seconds, fps)
    return sample_timeline(np.random.default_rng([seed, index]), seconds, fps, ranges)


# -- workers ------------------------------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker() -> None:
    from twist_training.walking.generator import WalkGenerator
    from twist_training.walking.quality import QualityMeter

    spec = load_robot_spec()
    generator = WalkGenerator(spec)
    _WORKER.update(spec=spec, generator=generator, meter=QualityMeter(spec, gait=generator.config.gait))


def _build_clip(job: tuple[int, int, float, CommandRanges, str, list | None]) -> dict:
    index, seed, seconds, ranges, out, walks = job
    generator, meter = _WORKER["generator"], _WORKER["meter"]
    command = clip_timeline(index, seed, seconds, generator.fps, ranges, walks)
    motion, plan = generator.generate(command, metadata={"seed": seed, "clip": index})
    quality = meter.measure(motion, plan)
    failures = quality.failures(meter.targets)
    motion.metadata["quality"] = dataclasses.asdict(quality)
    path = Path(out) / f"clip_{index:04d}.npz"
    save_motion(motion, path)
    return {"clip": index, "file": path.name, **dataclasses.asdict(quality), "failures": failures,
            "commands": np.unique(command, axis=0).round(3).tolist()}


def summarize(results: list[dict]) -> dict:
    """Dataset-level numbers: pass rates per target and the worst values."""
    n = len(results)
    return {
        "clips": n,
        "passing_clips": sum(not r["failures"] for r in results),
        "slip_max_m": max(r["slip"] for r in results),
        "slip_p95_m": float(np.percentile([r["slip"] for r in results], 95)),
        "zmp_inside_min": min(r["zmp_inside"] for r in results),
        "zmp_inside_mean": float(np.mean([r["zmp_inside"] for r in results])),
        "velocity_error_max": max(r["velocity_error"] for r in results),
        "velocity_error_p95": float(np.percentile([r["velocity_error"] for r in results], 95)),
        "velocity_windows": sum(r["velocity_windows"] for r in results),
        "clips_with_velocity_window": sum(r["velocity_windows"] > 0 for r in results),
        "joint_limit_violations": sum(r["joint_limit_violations"] for r in results),
        "penetration_max_m": max(r["penetration"] for r in results),
        "failures": {r["file"]: r["failures"] for r in results if r["failures"]},
    }


def walk_table(results: list[dict], walks: list) -> str:
    """A Markdown table of single walks' quality, one row per command."""
    rows = ["| vx, vy, yaw rate | stance slip | ZMP inside | velocity error | heading error | joint limits | "
            "penetration | meets targets |", "|---|---|---|---|---|---|---|---|"]
    for r, walk in zip(results, walks):
        rows.append(f"| {', '.join(f'{v:g}' for v in walk)} | {r['slip'] * 1e3:.2f} mm | {r['zmp_inside']:.1%} | "
                    f"{r['velocity_error']:.1%} | {r['heading_error']:.3f} rad/s | {r['joint_limit_violations']} | "
                    f"{r['penetration'] * 1e3:.2f} mm | {'yes' if not r['failures'] else '; '.join(r['failures'])} |")
    return "\n".join(rows)


def plot_commands(results: list[dict], out: Path, fps: float, seconds: float, seed: int,
                  ranges: CommandRanges, walks: list | None = None) -> Path:
    """Histograms of the commanded vx, vy and yaw rate over all frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    commands = np.concatenate([clip_timeline(r["clip"], seed, seconds, fps, ranges, walks) for r in results])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5), constrained_layout=True)
    for ax, values, label in zip(axes, commands.T, ("vx [m/s]", "vy [m/s]", "yaw rate [rad/s]")):
        ax.hist(values, bins=41)
        ax.set_xlabel(label)
        ax.set_ylabel("frames")
    fig.suptitle(f"{len(results)} clips x {seconds:g} s: commanded velocity (all frames)")
    path = out / "commands.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="walk-dataset", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each clip")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="processes (one per core)")
    parser.add_argument("--command", type=float, nargs=3, action="append", metavar=("VX", "VY", "YAW_RATE"),
                        help="a single walk at this command instead of random timelines (repeatable; "
                             "overrides --clips)")
    defaults = CommandRanges()
    for name in ("vx_min", "vx_max", "vy_max", "yaw_rate_max", "stand_probability"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name))
    args = parser.parse_args(argv)
    from tqdm import tqdm

    ranges = CommandRanges(vx_min=args.vx_min, vx_max=args.vx_max, vy_max=args.vy_max,
                           yaw_rate_max=args.yaw_rate_max, stand_probability=args.stand_probability)
    if args.command and not np.all(np.isfinite(args.command)):
        parser.error(f"--command needs finite numbers, got {args.command}")
    if args.seconds <= 1.0 or not np.isfinite(args.seconds):
        parser.error(f"--seconds must be a finite number above 1 (the standing start), got {args.seconds}")
    walks = [tuple(c) for c in args.command] if args.command else None
    clips = len(walks) if walks else args.clips
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [(i, args.seed, args.seconds, ranges, str(args.out), walks) for i in range(clips)]
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.workers, initializer=_init_worker) as pool:
        results = list(tqdm(pool.imap(_build_clip, jobs), total=len(jobs), desc="clips", unit="clip"))
    elapsed = time.perf_counter() - start
    summary = summarize(results)
    summary.update(seconds_per_clip=args.seconds, seed=args.seed, build_time_s=round(elapsed, 1),
                   ranges=dataclasses.asdict(ranges), clips_detail=results)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    plot_commands(results, args.out, 50.0, args.seconds, args.seed, ranges, walks)
    if walks:
        print(walk_table(results, walks))
    print(f"{summary['passing_clips']}/{summary['clips']} clips meet every quality target; "
          f"slip max {summary['slip_max_m'] * 1e3:.1f} mm, ZMP inside >= {summary['zmp_inside_min']:.1%}, "
          f"velocity error max {summary['velocity_error_max']:.1%} ({summary['velocity_windows']} walking windows "
          f"in {summary['clips_with_velocity_window']} clips), joint-limit violations "
          f"{summary['joint_limit_violations']}, penetration max {summary['penetration_max_m'] * 1e3:.1f} mm; "
          f"built in {elapsed:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
