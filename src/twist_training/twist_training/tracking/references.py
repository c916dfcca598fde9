"""Reference motions for tracker training: a motion library on the device, and CMG clips generated in the loop.

:class:`MotionLibrary` holds every frame of its clips (50 Hz, the control rate) as torch tensors, so looking up a
batch of reference frames is indexing. Two ways of drawing episode starts (:class:`Sampling`):

* ``clip`` (TWIST's): clips with probability proportional to weight x difficulty, the start frame uniform;
  difficulty adapts to how far episodes get (x1.01 when the mean completion is <= 0.5, x0.99 when >= 0.95,
  clamped to [1, 9], starting at 9 so every clip is tried early);
* ``segment`` (failure-weighted, as BeyondMimic's adaptive sampling): every clip is cut into segments of
  ``segment_seconds``; a clip's weight is shared by its segments, and a segment is drawn with probability
  ``uniform_share`` x its share of the weight + (1 - ``uniform_share``) x its share of the recent failures
  (weight x a failure count that decays by ``failure_decay`` per update; a failure also counts ``lookback``
  for the segment before it, so episodes start early enough to practise the approach to the hard part).

:func:`cmg_clips` free-runs an exported CMG (``twist_core.cmg_runtime``, batched) under random command timelines
and turns the joints into complete motions the same way the ``cmg_reference`` node does (root synthesized from
the command, key bodies by forward kinematics), so the tracker trains on what it will track on the robot.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import yaml

from twist_core import rotations
from twist_core.cmg_runtime import CmgFreeRun, CmgRuntime
from twist_core.motion import STANDARD_FPS, Motion, motion_from_generated_joints, resample
from twist_core.motion_formats import read_motion
from twist_core.robot import RobotSpec

DIFFICULTY_START, DIFFICULTY_MIN, DIFFICULTY_MAX = 9.0, 1.0, 9.0


@dataclasses.dataclass
class Sampling:
    """How episode starts are drawn (see the module docstring)."""

    mode: str = "clip"
    segment_seconds: float = 2.0
    uniform_share: float = 0.3
    failure_decay: float = 0.999
    lookback: float = 0.5

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        if self.mode not in ("clip", "segment"):
            raise ValueError(f"sampling mode must be 'clip' or 'segment', not {self.mode!r}")
        if not (self.segment_seconds > 0 and 0.0 <= self.uniform_share <= 1.0 and 0.0 < self.failure_decay <= 1.0
                and self.lookback >= 0.0):
            raise ValueError(f"sampling: out-of-range values in {self}")


@dataclasses.dataclass
class ClipSpec:
    """One entry of a motion list (TWIST's YAML layout: file, weight, description)."""

    file: str
    weight: float = 1.0
    description: str = ""


def read_motion_list(path: Path) -> list[ClipSpec]:
    """A YAML motion list: ``root_path`` (optional) and ``motions: [{file, weight, description}]``."""
    content = yaml.safe_load(Path(path).read_text()) or {}
    root = Path(path).parent / content.get("root_path", ".")  # relative to the list (an absolute root_path wins)
    clips = []
    for i, entry in enumerate(content.get("motions", [])):
        if not isinstance(entry, dict) or "file" not in entry:
            raise ValueError(f"{path}: motions[{i}] needs a 'file'")
        clips.append(ClipSpec(str(root / entry["file"]), float(entry.get("weight", 1.0)),
                              str(entry.get("description", ""))))
    if not clips:
        raise ValueError(f"{path}: no motions listed")
    return clips


def clips_from_inputs(inputs: Sequence[str | dict]) -> list[ClipSpec]:
    """Clips from YAML motion lists, directories (every .npz/.pkl) and files, weight 1 unless listed.

    An input may also be ``{"path": ..., "weight": w}``: every clip it holds has its weight multiplied by ``w``
    (to balance a mixture of datasets).
    """
    clips: list[ClipSpec] = []
    for entry in inputs:
        scale = 1.0
        if isinstance(entry, dict):
            if set(entry) - {"path", "weight"} or "path" not in entry:
                raise ValueError(f"a motions entry is a path or {{path, weight}}, not {entry}")
            scale = float(entry.get("weight", 1.0))
            entry = entry["path"]
        item = Path(entry)
        if item.suffix in (".yaml", ".yml"):
            found = read_motion_list(item)
        elif item.is_dir():
            found = [ClipSpec(str(p)) for p in sorted(item.iterdir()) if p.suffix in (".npz", ".pkl")]
        else:
            found = [ClipSpec(str(item))]
        clips += [dataclasses.replace(c, weight=c.weight * scale) for c in found]
    return clips


def yaw_frame_points(root_pos: np.ndarray, root_quat: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (T, K, 3) relative to the root, in the root's yaw-only frame."""
    heading = rotations.from_yaw(rotations.yaw(root_quat))
    return rotations.rotate_inverse(heading[:, None, :], points - root_pos[:, None, :])


class MotionLibrary:
    """Every frame of a set of motions on a torch device; see the module docstring."""

    def __init__(self, motions: Sequence[Motion], weights: Sequence[float], names: Sequence[str],
                 device: str | torch.device = "cpu", min_frames: int = 10, sampling: Sampling | None = None) -> None:
        """Stack the motions (already at the control rate) and precompute the tracked quantities."""
        keep = [i for i, m in enumerate(motions) if m.num_frames >= min_frames]
        if not keep:
            raise ValueError(f"no motion has at least {min_frames} frames")
        motions = [motions[i] for i in keep]
        self.names = [names[i] for i in keep]
        self.device = torch.device(device)
        lengths = np.array([m.num_frames for m in motions])
        self.lengths = torch.as_tensor(lengths, device=self.device)
        self.starts = torch.as_tensor(np.concatenate([[0], np.cumsum(lengths)[:-1]]), device=self.device)
        self.weights = torch.as_tensor(np.asarray(weights, dtype=np.float64)[keep], dtype=torch.float32,
                                       device=self.device)
        self.difficulty = torch.full((len(motions),), DIFFICULTY_START, device=self.device)

        def cat(values: Sequence[np.ndarray]) -> torch.Tensor:
            return torch.as_tensor(np.concatenate(values), dtype=torch.float32, device=self.device)

        self.root_pos = cat([m.root_pos for m in motions])
        self.root_quat = cat([m.root_quat for m in motions])
        self.root_lin_vel_local = cat([m.root_lin_vel_local() for m in motions])
        self.root_ang_vel_local = cat([m.root_ang_vel_local() for m in motions])
        self.joint_pos = cat([m.joint_pos for m in motions])
        self.joint_vel = cat([m.joint_vel for m in motions])
        self.key_body_yaw = cat([yaw_frame_points(m.root_pos, m.root_quat, m.key_body_pos) for m in motions])
        self.key_body_local = cat([m.key_body_pos_local() for m in motions])
        self.speed = torch.as_tensor([float(np.linalg.norm(m.root_lin_vel[:, :2], axis=1).mean()) for m in motions],
                                     device=self.device)
        self.sampling = sampling or Sampling()
        fps = motions[0].fps
        self.segment_frames = max(1, int(round(self.sampling.segment_seconds * fps)))
        per_clip = np.maximum(1, np.ceil(lengths / self.segment_frames).astype(np.int64))
        self.segment_offset = torch.as_tensor(np.concatenate([[0], np.cumsum(per_clip)[:-1]]), device=self.device)
        self.segments_per_clip = torch.as_tensor(per_clip, device=self.device)
        clip_of = np.repeat(np.arange(len(motions)), per_clip)
        self.segment_clip = torch.as_tensor(clip_of, device=self.device)
        self.segment_first = torch.as_tensor(np.concatenate([np.arange(k) for k in per_clip]) * self.segment_frames,
                                             device=self.device)
        self.segment_base = self.weights[self.segment_clip] / self.segments_per_clip[self.segment_clip]
        self.segment_failures = torch.zeros(len(clip_of), device=self.device)

    @classmethod
    def from_clips(cls, spec: RobotSpec, clips: Sequence[ClipSpec], device: str | torch.device = "cpu",
                   extra: Sequence[Motion] = (), extra_weight: float = 1.0,
                   sampling: Sampling | None = None) -> "MotionLibrary":
        """Load clip files (any motion-tool format, resampled to 50 Hz) plus already-built motions."""
        motions, weights, names = [], [], []
        for clip in clips:
            motion = read_motion(clip.file, spec)
            if abs(motion.fps - STANDARD_FPS) > 1e-9:
                motion = resample(motion, spec, STANDARD_FPS)
            motions.append(motion)
            weights.append(clip.weight)
            names.append(Path(clip.file).name)
        for i, motion in enumerate(extra):
            motions.append(motion)
            weights.append(extra_weight)
            names.append(f"cmg_{i:04d}")
        return cls(motions, weights, names, device, sampling=sampling)

    @property
    def num_motions(self) -> int:
        """Number of clips."""
        return len(self.lengths)

    def sample(self, n: int, generator: torch.Generator | None = None, min_remaining: int = 50) -> tuple[
            torch.Tensor, torch.Tensor]:
        """Clip ids and start frames, leaving ``min_remaining`` frames if possible (see :class:`Sampling`)."""
        uniform = torch.rand(n, generator=generator, device=self.device)
        if self.sampling.mode == "clip":
            ids = torch.multinomial(self.weights * self.difficulty, n, replacement=True, generator=generator)
            room = torch.clamp(self.lengths[ids] - min_remaining, min=1)
            return ids, (uniform * room).long()
        segments = torch.multinomial(self.segment_probabilities(), n, replacement=True, generator=generator)
        ids = self.segment_clip[segments]
        start = self.segment_first[segments] + (uniform * self.segment_frames).long()
        return ids, torch.minimum(start, torch.clamp(self.lengths[ids] - min_remaining, min=0))

    def segment_probabilities(self) -> torch.Tensor:
        """The probability of drawing each segment (``segment`` sampling)."""
        base = self.segment_base / self.segment_base.sum()
        failed = self.segment_base * self.segment_failures
        if failed.sum() <= 0:
            return base
        share = self.sampling.uniform_share
        return share * base + (1.0 - share) * failed / failed.sum()

    def record_episodes(self, ids: torch.Tensor, starts: torch.Tensor, frames: torch.Tensor, failed: torch.Tensor,
                        max_length: int) -> None:
        """Adapt sampling to episodes that just ended: clip ``ids``, start and last frames, failed or not."""
        if len(ids) == 0:
            return
        if self.sampling.mode == "clip":
            span = torch.clamp(torch.clamp(self.lengths[ids] - starts, max=max_length), min=1)
            self.update_difficulty(ids, torch.clamp((frames - starts).float() / span.float(), max=1.0))
            return
        self.segment_failures *= self.sampling.failure_decay
        ids, frames = ids[failed], frames[failed]
        if len(ids) == 0:
            return
        within = torch.minimum(frames // self.segment_frames, self.segments_per_clip[ids] - 1)
        segment = self.segment_offset[ids] + within
        self.segment_failures.index_add_(0, segment, torch.ones(len(segment), device=self.device))
        earlier = within > 0
        self.segment_failures.index_add_(0, segment[earlier] - 1, torch.full((int(earlier.sum()),),
                                         self.sampling.lookback, device=self.device))

    def sampler_state(self) -> dict[str, Any]:
        """What the adaptive sampling has learned (clip difficulties, segment failures), for a checkpoint."""
        return {"names": list(self.names), "difficulty": self.difficulty.cpu().clone(),
                "segment_failures": self.segment_failures.cpu().clone()}

    def load_sampler_state(self, state: Any) -> bool:
        """Restore a :meth:`sampler_state` of this library (same clips, same segments); whether it was restored.

        Anything else (another clip list, another segment length, non-finite or negative values, not a state at
        all) leaves the sampling as it starts, so a resumed run with other references starts it afresh.
        """
        if not isinstance(state, dict) or state.get("names") != self.names:
            return False
        restored = {}
        for key, current in (("difficulty", self.difficulty), ("segment_failures", self.segment_failures)):
            value = state.get(key)
            if not (isinstance(value, torch.Tensor) and value.shape == current.shape and value.is_floating_point()
                    and bool(torch.isfinite(value).all()) and bool((value >= 0).all())):
                return False
            restored[key] = value.to(device=self.device, dtype=current.dtype).clone()
        self.difficulty, self.segment_failures = restored["difficulty"], restored["segment_failures"]
        return True

    def index(self, ids: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Flat frame index of (clip, frame) pairs, frames clamped to the clip."""
        frames = torch.minimum(torch.clamp(frames, min=0), self.lengths[ids] - 1)
        return self.starts[ids] + frames

    def update_difficulty(self, ids: torch.Tensor, completion: torch.Tensor) -> None:
        """Adapt the difficulty of clips from the completion (0..1) of episodes that just ended on them."""
        if len(ids) == 0:
            return
        total = torch.zeros_like(self.difficulty).index_add_(0, ids, completion)
        count = torch.zeros_like(self.difficulty).index_add_(0, ids, torch.ones_like(completion))
        seen = count > 0
        mean = total[seen] / count[seen]
        factor = torch.where(mean <= 0.5, 1.01, torch.where(mean >= 0.95, 0.99, 1.0))
        self.difficulty[seen] = torch.clamp(self.difficulty[seen] * factor, DIFFICULTY_MIN, DIFFICULTY_MAX)


@dataclasses.dataclass
class CommandSampling:
    """Random command timelines for CMG clips: segments holding one command (standing included).

    ``vy`` and ``yaw_rate`` are a bound b (uniform in [-b, b]) or a (low, high) range like ``vx``; a range of one
    value pins the command (the command probe of ``scripts/probe_checkpoint.py``).
    """

    vx: tuple[float, float] = (-0.5, 1.0)
    vy: float | tuple[float, float] = 0.5
    yaw_rate: float | tuple[float, float] = 1.0
    stand_probability: float = 0.15
    segment: tuple[float, float] = (2.0, 5.0)

    def ranges(self) -> list[tuple[float, float]]:
        """(low, high) of vx, vy and the yaw rate."""
        return [tuple(r) if isinstance(r, (tuple, list)) else (-r, r) for r in (self.vx, self.vy, self.yaw_rate)]


def command_timelines(rng: np.random.Generator, clips: int, seconds: float, sampling: CommandSampling,
                      low: np.ndarray, high: np.ndarray, fps: float = STANDARD_FPS) -> np.ndarray:
    """(T, clips, 3) commands: 1 s standing, then random segments, clipped to the model's range."""
    steps = int(round(seconds * fps))
    out = np.zeros((steps, clips, 3))
    ranges = sampling.ranges()
    for c in range(clips):
        t = int(fps)
        while t < steps:
            length = int(rng.uniform(*sampling.segment) * fps)
            if rng.random() >= sampling.stand_probability:
                command = np.array([rng.uniform(*r) for r in ranges])
                out[t:t + length, c] = np.clip(command, low, high)
            t += length
    return out


def cmg_clips(spec: RobotSpec, runtime: CmgRuntime, clips: int, seconds: float, seed: int,
              sampling: CommandSampling | None = None) -> list[Motion]:
    """``clips`` CMG free runs under random command timelines, as complete motions.

    The model runs as the node runs it (joints clamped to limits, the standing hold at zero command); the clips
    are labelled with the commands the model saw (after the standing deadband).
    """
    rng = np.random.default_rng(seed)
    runner = CmgFreeRun(runtime)
    commands = runner.command(command_timelines(rng, clips, seconds, sampling or CommandSampling(),
                                                runtime.command_min, runtime.command_max, runtime.fps))
    n = spec.num_joints
    state = runner.start(clips)
    frames = []
    for command in commands:
        frames.append(state.motion)
        state, _ = runner.step(state, command)
    frames = np.stack(frames)
    return [motion_from_generated_joints(spec, runtime.fps, frames[:, c, :n], frames[:, c, n:], commands[:, c],
                                         {"source": "cmg", "model": str(runtime.path)}) for c in range(clips)]
