"""The canonical motion: what every loader produces and every consumer (training, reference nodes) reads.

A :class:`Motion` holds, per frame at an explicit ``fps`` (50 Hz after :func:`resample`):

* ``root_pos`` (T, 3): pelvis position in the world [m], z up;
* ``root_quat`` (T, 4): pelvis orientation in the world, **(w, x, y, z)**, unit norm;
* ``joint_pos``, ``joint_vel`` (T, 29): joints in Unitree motor order (``config/g1.yaml``) [rad, rad/s];
* ``root_lin_vel``, ``root_ang_vel`` (T, 3): pelvis velocities in the world frame [m/s, rad/s];
* ``key_body_pos`` (T, K, 3): the config's key-body points in the world [m], by forward kinematics of the model;
* ``command`` (T, 3) or None: the velocity command (vx, vy in the heading frame [m/s], yaw rate [rad/s]);
* ``metadata``: a JSON-serializable dict (source file, format, original fps, ...).

Velocities are derived the same way everywhere (:func:`derive_velocities`: central differences over the frames,
optional centred box smoothing). Files are ``.npz`` with the key ``twist_motion_version``.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from twist_core import rotations
from twist_core.robot import RobotSpec

MOTION_VERSION = 1
STANDARD_FPS = 50.0
QUAT_NORM_TOLERANCE = 1e-3
#: Bounds of a plausible frame rate [Hz]: a wrong ``fps`` must not pass validation or allocate gigabytes.
MIN_FPS, MAX_FPS = 1.0, 1000.0
#: The longest motion made (resampled, generated): 2 h 47 min at 50 Hz, about 0.5 GB with its key bodies.
MAX_FRAMES = 500_000


class MotionError(ValueError):
    """A motion that must not be used; the message says why."""


@dataclasses.dataclass
class Motion:
    """A whole-body motion of the robot (see the module docstring for units and frames)."""

    fps: float
    joint_names: tuple[str, ...]
    root_pos: np.ndarray
    root_quat: np.ndarray
    joint_pos: np.ndarray
    joint_vel: np.ndarray
    root_lin_vel: np.ndarray
    root_ang_vel: np.ndarray
    key_body_names: tuple[str, ...]
    key_body_pos: np.ndarray
    command: np.ndarray | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        """Number of frames."""
        return len(self.joint_pos)

    @property
    def duration(self) -> float:
        """Time from the first to the last frame [s]."""
        return (self.num_frames - 1) / self.fps

    def root_lin_vel_local(self) -> np.ndarray:
        """Pelvis linear velocity in the pelvis frame (T, 3)."""
        return rotations.rotate_inverse(self.root_quat, self.root_lin_vel)

    def root_ang_vel_local(self) -> np.ndarray:
        """Pelvis angular velocity in the pelvis frame (T, 3); z is the yaw rate."""
        return rotations.rotate_inverse(self.root_quat, self.root_ang_vel)

    def key_body_pos_local(self) -> np.ndarray:
        """Key-body points relative to the pelvis, in the pelvis frame (T, K, 3)."""
        relative = self.key_body_pos - self.root_pos[:, None, :]
        return rotations.rotate_inverse(self.root_quat[:, None, :], relative)

    def from_frame(self, start: int) -> Motion:
        """The motion from frame ``start`` on, copied (velocities as measured in the whole motion).

        The metadata's ``starts_at_s`` adds up where in the original motion it starts.
        """
        if not 0 <= start < self.num_frames - 1:
            raise MotionError(f"cannot start at frame {start} of a {self.num_frames}-frame motion")
        arrays = {f.name: getattr(self, f.name)[start:].copy() for f in dataclasses.fields(self)
                  if isinstance(getattr(self, f.name), np.ndarray)}
        offset = float(self.metadata.get("starts_at_s", 0.0)) + start / self.fps
        return dataclasses.replace(self, **arrays, metadata=dict(self.metadata, starts_at_s=offset))


# ---------------------------------------------------------------------------------------------------------
# Building and validating
# ---------------------------------------------------------------------------------------------------------
def _smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Centred box filter over axis 0 with shrinking windows at the ends (window 1: unchanged)."""
    if window <= 1 or len(x) < 3:
        return x
    if window % 2 == 0:
        raise ValueError(f"smoothing window must be odd, got {window}")
    half = window // 2
    cumsum = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)])
    idx = np.arange(len(x))
    lo = np.maximum(idx - half, 0)
    hi = np.minimum(idx + half + 1, len(x))
    shape = (-1,) + (1,) * (x.ndim - 1)
    return (cumsum[hi] - cumsum[lo]) / (hi - lo).reshape(shape)


def derive_velocities(fps: float, root_pos: np.ndarray, root_quat: np.ndarray, joint_pos: np.ndarray,
                      smooth_window: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(joint_vel, root_lin_vel, root_ang_vel) by central differences, then a centred box filter."""
    if len(joint_pos) < 2:
        raise MotionError("a motion needs at least 2 frames to have velocities")
    dt = 1.0 / fps
    joint_vel = np.gradient(joint_pos, dt, axis=0)
    root_lin_vel = np.gradient(root_pos, dt, axis=0)
    root_ang_vel = rotations.angular_velocity(root_quat, dt)
    return tuple(_smooth(v, smooth_window) for v in (joint_vel, root_lin_vel, root_ang_vel))


def build_motion(spec: RobotSpec, fps: float, root_pos: np.ndarray, root_quat: np.ndarray,
                 joint_pos: np.ndarray, joint_vel: np.ndarray | None = None, command: np.ndarray | None = None,
                 metadata: dict[str, Any] | None = None, smooth_window: int = 1) -> Motion:
    """Validate raw arrays and complete them: normalized quaternions, velocities, FK key bodies."""
    from twist_core.model import key_body_positions

    fps = checked_fps(fps)
    root_pos = _array(root_pos, "root_pos", (None, 3))
    n = len(root_pos)
    root_quat = _quaternions(_array(root_quat, "root_quat", (n, 4)))
    joint_pos = _array(joint_pos, "joint_pos", (n, spec.num_joints))
    if command is not None:
        command = _array(command, "command", (n, 3))
    derived = derive_velocities(fps, root_pos, root_quat, joint_pos, smooth_window)
    derived_joint_vel, root_lin_vel, root_ang_vel = derived
    joint_vel = derived_joint_vel if joint_vel is None else _array(joint_vel, "joint_vel", (n, spec.num_joints))
    return Motion(fps=fps, joint_names=spec.joint_names, root_pos=root_pos, root_quat=root_quat,
                  joint_pos=joint_pos, joint_vel=joint_vel, root_lin_vel=root_lin_vel, root_ang_vel=root_ang_vel,
                  key_body_names=spec.key_body_names,
                  key_body_pos=key_body_positions(spec, root_pos, root_quat, joint_pos),
                  command=command, metadata=dict(metadata or {}))


def checked_fps(fps: Any, path: Path | str = "") -> float:
    """``fps`` (a number, or an array holding one) within [MIN_FPS, MAX_FPS], else a MotionError saying why."""
    where = f"{path}: " if path else ""
    array = np.asarray(fps) if not isinstance(fps, (str, bytes)) else np.asarray([fps])
    if array.size != 1 or array.dtype.kind not in "biuf":
        raise MotionError(f"{where}fps must be a single number, got {fps!r}")
    value = float(array.reshape(-1)[0])
    if not MIN_FPS <= value <= MAX_FPS:  # also rejects NaN
        raise MotionError(f"{where}fps {value:g} is outside [{MIN_FPS:g}, {MAX_FPS:g}] Hz")
    return value


def _array(value: Any, name: str, shape: tuple[int | None, ...]) -> np.ndarray:
    """A finite float64 array of the given shape (None: any length, at least 2)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MotionError(f"{name}: not a numeric array ({exc})") from None
    if array.ndim != len(shape) or any(want is not None and got != want for got, want in zip(array.shape, shape)):
        expected = "(" + ", ".join("T" if s is None else str(s) for s in shape) + ")"
        raise MotionError(f"{name}: expected shape {expected}, got {array.shape}")
    if array.shape[0] < 2:
        raise MotionError(f"{name}: a motion needs at least 2 frames, got {array.shape[0]}")
    bad = ~np.isfinite(array)
    if np.any(bad):
        frames = np.unique(np.argwhere(bad)[:, 0])
        raise MotionError(f"{name}: NaN/Inf in {len(frames)} frame(s), first at frame {frames[0]}")
    return array


def _quaternions(q: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(q, axis=-1)
    off = np.abs(norm - 1.0) > QUAT_NORM_TOLERANCE
    if np.any(off):
        raise MotionError(f"root_quat: {off.sum()} quaternion(s) not of unit norm (first at frame "
                          f"{np.argmax(off)}: norm {norm[np.argmax(off)]:.4f}); is the order wxyz?")
    return q / norm[:, None]


def validate_motion(motion: Motion, spec: RobotSpec) -> None:
    """Raise :class:`MotionError` unless the motion is complete, finite and in this robot's joint order."""
    if tuple(motion.joint_names) != spec.joint_names:
        raise MotionError(f"joint order differs from config/g1.yaml: {list(motion.joint_names)}")
    if tuple(motion.key_body_names) != spec.key_body_names:
        raise MotionError(f"key bodies differ from config/g1.yaml: {list(motion.key_body_names)}")
    checked_fps(motion.fps)
    n = motion.num_frames
    j, k = spec.num_joints, len(spec.key_body_names)
    for name, shape in (("root_pos", (n, 3)), ("root_quat", (n, 4)), ("joint_pos", (n, j)),
                        ("joint_vel", (n, j)), ("root_lin_vel", (n, 3)), ("root_ang_vel", (n, 3)),
                        ("key_body_pos", (n, k, 3))):
        _array(getattr(motion, name), name, shape)
    _quaternions(motion.root_quat)
    if motion.command is not None:
        _array(motion.command, "command", (n, 3))


def joint_limit_report(motion: Motion, spec: RobotSpec, tolerance: float = 1e-3) -> list[str]:
    """One line per joint that leaves its position range: frames outside and the worst excess [rad]."""
    below = spec.lower_limits - tolerance - motion.joint_pos
    above = motion.joint_pos - spec.upper_limits - tolerance
    excess = np.maximum(below, above)
    lines = []
    for i, name in enumerate(spec.joint_names):
        frames = int(np.sum(excess[:, i] > 0))
        if frames:
            lines.append(f"{name}: {frames} frame(s) outside [{spec.lower_limits[i]:.3f}, {spec.upper_limits[i]:.3f}]"
                         f", worst by {excess[:, i].max():.3f} rad")
    return lines


def fps_consistency_warning(fps: float, joint_pos: np.ndarray, joint_vel: np.ndarray) -> str | None:
    """A warning when a file's own velocities suggest another frame rate than the declared one."""
    derived = np.gradient(joint_pos, 1.0 / fps, axis=0)
    moving = np.abs(derived) > 0.05 * max(np.abs(derived).max(), 1e-9)
    if moving.sum() < 10:
        return None
    ratio = float(np.median(np.abs(joint_vel[moving]) / np.abs(derived[moving])))
    if abs(ratio - 1.0) < 0.15:
        return None
    return (f"declared fps {fps:g} disagrees with the file's own joint velocities, which suggest about "
            f"{fps * ratio:.0f} fps; velocities will be recomputed from positions at {fps:g} fps")


# ---------------------------------------------------------------------------------------------------------
# Resampling and the root of generated (CMG) motions
# ---------------------------------------------------------------------------------------------------------
def resample(motion: Motion, spec: RobotSpec, fps: float = STANDARD_FPS, smooth_window: int = 1) -> Motion:
    """The motion at ``fps``.

    Positions are linearly interpolated, the root quaternion by slerp; velocities are recomputed from the
    resampled positions and key bodies by forward kinematics.
    """
    fps = checked_fps(fps)
    frames = int(motion.duration * fps + 1e-9) + 1
    if frames > MAX_FRAMES:
        raise MotionError(f"resampling {motion.duration:.0f} s to {fps:g} fps would make {frames} frames, more than "
                          f"{MAX_FRAMES}: split the motion")
    times = np.arange(motion.num_frames) / motion.fps
    new_times = np.arange(0.0, times[-1] + 1e-9, 1.0 / fps)
    position = np.clip(new_times * motion.fps, 0, motion.num_frames - 1)
    lo = np.minimum(np.floor(position).astype(int), motion.num_frames - 2)
    frac = position - lo

    def lerp(x: np.ndarray) -> np.ndarray:
        f = frac.reshape((-1,) + (1,) * (x.ndim - 1))
        return (1.0 - f) * x[lo] + f * x[lo + 1]

    root_quat = rotations.slerp(motion.root_quat[lo], motion.root_quat[lo + 1], frac)
    metadata = dict(motion.metadata, resampled_from_fps=motion.fps)
    return build_motion(spec, fps, lerp(motion.root_pos), root_quat, lerp(motion.joint_pos), None,
                        None if motion.command is None else lerp(motion.command), metadata, smooth_window)


def root_from_command(command: np.ndarray, fps: float, height: float,
                      start_pos: np.ndarray | None = None, start_yaw: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Root positions and yaw-only quaternions integrating a velocity command.

    The command is (vx, vy in the heading frame, yaw rate); the height is constant, roll and pitch are zero.
    """
    command = np.asarray(command, dtype=np.float64)
    dt = 1.0 / fps
    yaw = start_yaw + np.concatenate([[0.0], np.cumsum(command[:-1, 2]) * dt])
    heading = rotations.from_yaw(yaw)
    world_vel = rotations.rotate(heading, np.column_stack([command[:, :2], np.zeros(len(command))]))
    start = np.zeros(3) if start_pos is None else np.asarray(start_pos, dtype=np.float64)
    pos = start + np.concatenate([np.zeros((1, 3)), np.cumsum(world_vel[:-1], axis=0) * dt])
    pos[:, 2] = height
    return pos, heading


def motion_from_generated_joints(spec: RobotSpec, fps: float, joint_pos: np.ndarray, joint_vel: np.ndarray,
                                 command: np.ndarray, metadata: dict[str, Any] | None = None) -> Motion:
    """A complete motion from generated joints (e.g. CMG output).

    The root is synthesized from the command (position and heading), its height from the joints: the lowest foot
    stands on the floor (``twist_core.model.standing_heights``, as the ``cmg_reference`` node publishes it); key
    bodies come from forward kinematics.
    """
    from twist_core.model import standing_heights

    command = _array(command, "command", (None, 3))
    joint_pos = _array(joint_pos, "joint_pos", (len(command), spec.num_joints))
    root_pos, root_quat = root_from_command(command, fps, 0.0)
    root_pos[:, 2] = standing_heights(spec, joint_pos)
    return build_motion(spec, fps, root_pos, root_quat, joint_pos, joint_vel, command,
                        dict(metadata or {}, root="synthesized from command"))


# ---------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------
_ARRAYS = ("root_pos", "root_quat", "joint_pos", "joint_vel", "root_lin_vel", "root_ang_vel", "key_body_pos")


def save_motion(motion: Motion, path: str | Path) -> Path:
    """Write the canonical ``.npz`` (compressed)."""
    path = Path(path)
    extra = {} if motion.command is None else {"command": motion.command}
    with open(path, "wb") as f:  # a file object: numpy would append .npz to a path without it
        np.savez_compressed(f, twist_motion_version=MOTION_VERSION, fps=motion.fps,
                            joint_names=np.array(motion.joint_names), key_body_names=np.array(motion.key_body_names),
                            metadata=json.dumps(motion.metadata), **{k: getattr(motion, k) for k in _ARRAYS},
                            **extra)
    return path


def is_canonical_file(path: str | Path) -> bool:
    """Whether ``path`` is a canonical motion ``.npz``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return "twist_motion_version" in data.files
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return False


def load_motion(path: str | Path, spec: RobotSpec) -> Motion:
    """Read and validate a canonical ``.npz``; raises :class:`MotionError` with the reason."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            content = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MotionError(f"{path}: cannot read as .npz: {exc}") from None
    if "twist_motion_version" not in content:
        raise MotionError(f"{path}: not a canonical motion file (no twist_motion_version); convert it with "
                          "`motion-tool convert`")
    version = content["twist_motion_version"]
    if version.dtype.kind not in "iu" or version.size != 1 or int(version) != MOTION_VERSION:
        raise MotionError(f"{path}: twist_motion_version {version.tolist()!r} is not {MOTION_VERSION} (an integer)")
    missing = [k for k in ("fps", "joint_names", "key_body_names", "metadata", *_ARRAYS) if k not in content]
    if missing:
        raise MotionError(f"{path}: missing field(s) {missing}")
    try:
        metadata = json.loads(str(content["metadata"]))
    except json.JSONDecodeError as exc:
        raise MotionError(f"{path}: metadata is not JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise MotionError(f"{path}: metadata must be a JSON object, got {type(metadata).__name__}")
    arrays = {}
    for key in (*_ARRAYS, *(("command",) if "command" in content else ())):
        if content[key].dtype.kind not in "biuf":
            raise MotionError(f"{path}: {key} must be a numeric array, got dtype {content[key].dtype}")
        arrays[key] = content[key].astype(np.float64)
    names = {key: content[key] for key in ("joint_names", "key_body_names")}
    bad = [key for key, value in names.items() if value.ndim != 1 or value.dtype.kind not in "US"]
    if bad:
        raise MotionError(f"{path}: {', '.join(bad)} must be lists of names")
    motion = Motion(fps=checked_fps(content["fps"], path), metadata=metadata,
                    **{key: tuple(str(n) for n in value) for key, value in names.items()}, **arrays)
    try:
        validate_motion(motion, spec)
    except MotionError as exc:
        raise MotionError(f"{path}: {exc}") from None
    return motion
