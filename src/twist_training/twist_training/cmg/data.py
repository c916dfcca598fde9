"""CMG training data: windows of motion and command from canonical motion files (or the original .pt layout).

A window is ``length + 1`` frames of state (29 joint positions then 29 velocities, Unitree order, 50 Hz) and
``length`` commands (vx, vy, yaw_rate in the root frame; command t drives frame t -> t + 1). Commands come from
the motion's per-frame command labels when it has them (generated data), otherwise from the root velocity in the
root frame smoothed over ``command_smoothing`` seconds (about a gait cycle, so the command is the intent and not
the sway within a step). Every window is also mirrored left/right with the robot spec's mirror map (vy and yaw
rate negate). Clips are split into training and validation *by clip*, so no validation frame is seen in
training. Normalization: z-score for the motion (std floored), min-max to [-1, 1] for the command.

``cmg-prepare --motions DIR [DIR ...] --out data/cmg_data.npz`` writes the prepared arrays and a summary;
``--legacy-pt cmg_training_data.pt`` reads the original layout (``samples`` with ``motion`` [T+1, 58] and
``command`` [T, 3], ``stats`` with ``motion_mean/std``, ``command_min/max``), resampled from ``--legacy-fps``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from twist_core.motion import MotionError, STANDARD_FPS, resample
from twist_core.motion_formats import read_motion
from twist_core.robot import RobotSpec, load_robot_spec

WINDOW = 30
STD_FLOOR = 0.1
STANDING_COMMAND = 1e-3
STANDING_JOINT_SPEED = 0.05


@dataclasses.dataclass
class CmgStats:
    """Normalization statistics of the training split."""

    motion_mean: np.ndarray
    motion_std: np.ndarray
    command_min: np.ndarray
    command_max: np.ndarray

    def normalize_motion(self, motion: np.ndarray) -> np.ndarray:
        """Z-score."""
        return (motion - self.motion_mean) / self.motion_std

    def denormalize_motion(self, motion: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`normalize_motion`."""
        return motion * self.motion_std + self.motion_mean

    def normalize_command(self, command: np.ndarray) -> np.ndarray:
        """Min-max to [-1, 1]."""
        span = np.maximum(self.command_max - self.command_min, 1e-6)
        return 2.0 * (command - self.command_min) / span - 1.0


@dataclasses.dataclass
class CmgData:
    """Prepared windows, split, statistics and provenance."""

    motion: np.ndarray          # (N, L + 1, 58) physical units
    command: np.ndarray         # (N, L, 3)
    clip: np.ndarray            # (N,) clip index
    mirrored: np.ndarray        # (N,) bool
    validation: np.ndarray      # (N,) bool: held-out clip
    stats: CmgStats
    standing_frame: np.ndarray  # (58,)
    summary: dict[str, Any]

    def split(self, validation: bool) -> np.ndarray:
        """Indices of the training (False) or validation (True) windows."""
        return np.flatnonzero(self.validation == validation)


def commands_of(motion, smoothing: float = 1.0, lead: float = 0.0) -> np.ndarray:
    """Per-frame (vx, vy, yaw_rate): the motion's labels, else its smoothed root-frame velocity.

    ``lead`` [s] labels each frame with the command that many seconds later (the last command repeats at the
    end). Motion that anticipates its commands needs it: the walking generator's preview control starts shifting
    its weight before the command changes, and frames labelled "stand" that already start walking teach a
    model (which sees one frame and the command) to wander off from standing.
    """
    if motion.command is not None:
        labels = np.asarray(motion.command, dtype=np.float64)
    else:
        velocity = np.column_stack([motion.root_lin_vel_local()[:, :2], motion.root_ang_vel_local()[:, 2]])
        width = max(1, int(round(smoothing * motion.fps)))
        kernel = np.ones(width) / width
        padded = np.pad(velocity, ((width // 2, width - 1 - width // 2), (0, 0)), mode="edge")
        labels = np.column_stack([np.convolve(padded[:, i], kernel, mode="valid") for i in range(3)])
    shift = int(round(lead * motion.fps))
    if shift > 0:
        labels = np.concatenate([labels[shift:], np.repeat(labels[-1:], min(shift, len(labels)), axis=0)])
    return labels


def windows(states: np.ndarray, commands: np.ndarray, length: int = WINDOW, stride: int = 5) -> tuple[
        np.ndarray, np.ndarray]:
    """Overlapping windows: states (T, 58), commands (T, 3) -> (N, length + 1, 58), (N, length, 3)."""
    starts = np.arange(0, len(states) - length, stride)
    if not len(starts):
        return np.zeros((0, length + 1, states.shape[1])), np.zeros((0, length, 3))
    motion = np.stack([states[s:s + length + 1] for s in starts])
    command = np.stack([commands[s:s + length] for s in starts])
    return motion, command


def mirror(spec: RobotSpec, motion: np.ndarray, command: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left/right mirror of states (..., 58) and commands (..., 3)."""
    n = spec.num_joints
    mirrored = np.concatenate([spec.mirror(motion[..., :n]), spec.mirror(motion[..., n:])], axis=-1)
    return mirrored, command * np.array([1.0, -1.0, -1.0])


def compute_stats(motion: np.ndarray, command: np.ndarray, std_floor: float = STD_FLOOR) -> CmgStats:
    """Statistics over all frames of the given windows."""
    frames = motion.reshape(-1, motion.shape[-1])
    commands = command.reshape(-1, 3)
    return CmgStats(frames.mean(0), np.maximum(frames.std(0), std_floor), commands.min(0), commands.max(0))


def standing_frame(spec: RobotSpec, states: Sequence[np.ndarray], commands: Sequence[np.ndarray]) -> np.ndarray:
    """The mean frame where the command is zero and the joints are still (default pose if there is none)."""
    n = spec.num_joints
    still = [s[(np.abs(c).max(1) < STANDING_COMMAND) & (np.abs(s[:, n:]).max(1) < STANDING_JOINT_SPEED)]
             for s, c in zip(states, commands)]
    still = [s for s in still if len(s)]
    if not still:
        return np.concatenate([spec.default_pose, np.zeros(n)])
    frame = np.concatenate(still).mean(0)
    frame[n:] = 0.0
    return frame


def sample_weights(data: CmgData, indices: np.ndarray, standing_start_weight: float = 2.0,
                   speed_bins: Sequence[float] = (0.1, 0.3, 0.6, 1.0, 1.4, 1.8),
                   yaw_bins: Sequence[float] = (0.2, 0.6)) -> np.ndarray:
    """Sampling weights that balance speeds: each (planar speed, |yaw rate|) bin gets the same total weight.

    Windows that start standing (zero command, still joints) are weighted ``standing_start_weight`` times more,
    so starts from the standing pose are well represented.
    """
    command = data.command[indices].mean(1)
    speed_bin = np.digitize(np.hypot(command[:, 0], command[:, 1]), speed_bins)
    yaw_bin = np.digitize(np.abs(command[:, 2]), yaw_bins)
    key = speed_bin * (len(yaw_bins) + 1) + yaw_bin
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse]
    n = data.motion.shape[-1] // 2
    first = data.motion[indices, 0]
    standing = (np.abs(data.command[indices, 0]).max(1) < STANDING_COMMAND) & (
        np.abs(first[:, n:]).max(1) < STANDING_JOINT_SPEED)
    weights[standing] *= standing_start_weight
    return weights / weights.sum()


def _assemble(spec: RobotSpec, clips: list[tuple[np.ndarray, np.ndarray]], names: list[str],
              validation_fraction: float, seed: int, length: int, stride: int, source: str,
              stats: CmgStats | None = None) -> CmgData:
    rng = np.random.default_rng(seed)
    n_val = max(1, int(round(validation_fraction * len(clips)))) if len(clips) > 1 else 0
    validation_clips = set(rng.choice(len(clips), size=n_val, replace=False).tolist())
    parts = {k: [] for k in ("motion", "command", "clip", "mirrored", "validation")}
    for index, (states, commands) in enumerate(clips):
        motion_w, command_w = windows(states, commands, length, stride)
        for flag, (m, c) in enumerate([(motion_w, command_w), mirror(spec, motion_w, command_w)]):
            parts["motion"].append(m)
            parts["command"].append(c)
            parts["clip"].append(np.full(len(m), index))
            parts["mirrored"].append(np.full(len(m), bool(flag)))
            parts["validation"].append(np.full(len(m), index in validation_clips))
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    if len(arrays["motion"]) == 0:
        raise MotionError(f"no window of {length + 1} frames in the data (clips too short)")
    train = ~arrays["validation"]
    if stats is None:
        stats = compute_stats(arrays["motion"][train], arrays["command"][train])
    commands_all = np.concatenate([c for _, c in clips])
    summary = {
        "source": source, "clips": len(clips), "frames": int(sum(len(s) for s, _ in clips)),
        "seconds": float(sum(len(s) for s, _ in clips) / STANDARD_FPS), "fps": STANDARD_FPS,
        "windows": int(len(arrays["motion"])), "window_frames": length + 1, "stride": stride,
        "validation_clips": sorted(names[i] for i in validation_clips),
        "command_min": commands_all.min(0).tolist(), "command_max": commands_all.max(0).tolist(),
        "mirrored": True,
    }
    return CmgData(arrays["motion"].astype(np.float32), arrays["command"].astype(np.float32), arrays["clip"],
                   arrays["mirrored"], arrays["validation"], stats,
                   standing_frame(spec, [s for s, _ in clips], [c for _, c in clips]), summary)


def prepare_from_motions(spec: RobotSpec, paths: Sequence[Path], validation_fraction: float = 0.05, seed: int = 0,
                         length: int = WINDOW, stride: int = 5, command_smoothing: float = 1.0,
                         progress: bool = True, command_lead: float = 0.0) -> CmgData:
    """Windows from motion files (any format motion-tool reads), resampled to 50 Hz (``commands_of``)."""
    clips, names = [], []
    for path in tqdm(paths, desc="motions", unit="file", disable=not progress):
        motion = read_motion(path, spec)
        if abs(motion.fps - STANDARD_FPS) > 1e-9:
            motion = resample(motion, spec, STANDARD_FPS)
        clips.append((np.concatenate([motion.joint_pos, motion.joint_vel], axis=1),
                      commands_of(motion, command_smoothing, command_lead)))
        names.append(Path(path).name)
    if not clips:
        raise MotionError("no motion files given")
    return _assemble(spec, clips, names, validation_fraction, seed, length, stride,
                     source=f"{len(paths)} motion files, command labels led by {command_lead:g} s")


def _resample_rows(rows: np.ndarray, fps: float) -> np.ndarray:
    """Linear resampling of (T, D) rows from ``fps`` to 50 Hz."""
    t = np.arange(len(rows)) / fps
    t_new = np.arange(0.0, t[-1] + 1e-9, 1.0 / STANDARD_FPS)
    return np.column_stack([np.interp(t_new, t, rows[:, i]) for i in range(rows.shape[1])])


def prepare_from_legacy_pt(spec: RobotSpec, path: Path, fps: float, validation_fraction: float = 0.05,
                           seed: int = 0, length: int = WINDOW, stride: int = 5) -> CmgData:
    """Windows from the original ``cmg_training_data.pt``, resampled from ``fps`` to 50 Hz.

    Each sample is treated as a clip. Its file statistics are kept when no resampling is needed (fps 50),
    otherwise recomputed on the resampled data.
    """
    import torch

    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        raise MotionError(f"{path}: not a readable torch file: {exc}") from None
    if not isinstance(content, dict) or "samples" not in content or "stats" not in content:
        raise MotionError(f"{path}: expected a dict with 'samples' and 'stats'")
    clips, names = [], []
    for i, sample in enumerate(content["samples"]):
        motion = np.asarray(sample["motion"], dtype=np.float64)
        command = np.asarray(sample["command"], dtype=np.float64)
        if motion.ndim != 2 or motion.shape[1] != 2 * spec.num_joints or command.shape != (len(motion) - 1, 3):
            raise MotionError(f"{path}: sample {i}: motion {motion.shape} / command {command.shape}, expected "
                              f"(T+1, {2 * spec.num_joints}) / (T, 3)")
        if not (np.all(np.isfinite(motion)) and np.all(np.isfinite(command))):
            raise MotionError(f"{path}: sample {i} contains NaN/Inf")
        command = np.concatenate([command, command[-1:]])
        if abs(fps - STANDARD_FPS) > 1e-9:
            motion, command = _resample_rows(motion, fps), _resample_rows(command, fps)
        clips.append((motion, command))
        names.append(f"sample_{i}")
    stats = None
    if abs(fps - STANDARD_FPS) <= 1e-9:
        s = content["stats"]
        stats = CmgStats(*(np.asarray(s[k], dtype=np.float64).reshape(-1) for k in
                           ("motion_mean", "motion_std", "command_min", "command_max")))
    return _assemble(spec, clips, names, validation_fraction, seed, length, stride,
                     source=f"{path.name} (original CMG layout, {fps:g} Hz)", stats=stats)


def save_data(data: CmgData, path: Path) -> Path:
    """Write the prepared data as ``.npz``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, motion=data.motion, command=data.command, clip=data.clip, mirrored=data.mirrored,
             validation=data.validation, standing_frame=data.standing_frame,
             **{f"stats_{k}": v for k, v in dataclasses.asdict(data.stats).items()},
             summary=json.dumps(data.summary))
    return path


def load_data(path: Path) -> CmgData:
    """Read what :func:`save_data` wrote."""
    try:
        with np.load(path, allow_pickle=False) as f:
            stats = CmgStats(*(f[f"stats_{k}"] for k in ("motion_mean", "motion_std", "command_min", "command_max")))
            return CmgData(f["motion"], f["command"], f["clip"], f["mirrored"], f["validation"], stats,
                           f["standing_frame"], json.loads(str(f["summary"])))
    except (OSError, KeyError, ValueError) as exc:
        raise MotionError(f"{path}: not prepared CMG data ({exc})") from None


def motion_files(inputs: Sequence[str], skip_failing: bool = False) -> list[Path]:
    """Motion files from files and directories (``*.npz`` and ``*.pkl`` inside directories, sorted).

    With ``skip_failing``, clips that a directory's ``summary.json`` (walk-dataset's quality report) lists
    under ``failures`` are left out.
    """
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            failing: set[str] = set()
            summary = item / "summary.json"
            if skip_failing and summary.is_file():
                failing = set(json.loads(summary.read_text()).get("failures", {}))
            paths += sorted(p for p in item.iterdir() if p.suffix in (".npz", ".pkl") and p.is_file()
                            and p.name not in failing)
        else:
            paths.append(item)
    return paths


def main(argv: list[str] | None = None) -> None:
    """Command line: ``cmg-prepare``."""
    parser = argparse.ArgumentParser(prog="cmg-prepare", description=__doc__.split("\n\n")[0],
                                     epilog="Example: cmg-prepare --motions data/walk --out data/cmg_data.npz")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--motions", nargs="+", help="motion files or directories (any motion-tool format)")
    source.add_argument("--legacy-pt", type=Path, help="the original cmg_training_data.pt")
    parser.add_argument("--legacy-fps", type=float, default=30.0,
                        help="true frame rate of --legacy-pt data (the original's data are about 30 Hz)")
    parser.add_argument("--out", type=Path, required=True, help="output .npz")
    parser.add_argument("--validation", type=float, default=0.05, help="fraction of clips held out")
    parser.add_argument("--stride", type=int, default=5, help="frames between window starts")
    parser.add_argument("--command-smoothing", type=float, default=1.0,
                        help="seconds of root-velocity smoothing for files without command labels")
    parser.add_argument("--command-lead", type=float, default=0.0,
                        help="label each frame with the command this many seconds later (0.5 for walk-dataset "
                             "clips, whose preview control anticipates command changes)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the validation split")
    parser.add_argument("--skip-failing", action="store_true",
                        help="leave out clips that a directory's summary.json (walk-dataset) marks as failing")
    args = parser.parse_args(argv)
    spec = load_robot_spec()
    try:
        if args.motions:
            data = prepare_from_motions(spec, motion_files(args.motions, args.skip_failing), args.validation, args.seed,
                                        stride=args.stride, command_smoothing=args.command_smoothing,
                                        command_lead=args.command_lead)
        else:
            data = prepare_from_legacy_pt(spec, args.legacy_pt, args.legacy_fps, args.validation, args.seed,
                                          stride=args.stride)
    except (MotionError, OSError) as exc:
        print(f"cmg-prepare: {exc}", file=sys.stderr)
        sys.exit(2)
    save_data(data, args.out)
    s = data.summary
    print(f"{s['clips']} clips, {s['seconds']:.0f} s, {s['windows']} windows (mirrored included), "
          f"{len(data.split(True))} for validation; commands {np.round(s['command_min'], 2).tolist()} .. "
          f"{np.round(s['command_max'], 2).tolist()} -> {args.out}")


if __name__ == "__main__":
    main()
