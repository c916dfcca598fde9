"""From stream samples (and CMG frames) to the reference the robot tracks, one control tick at a time: no ROS.

:class:`TeleopMixer` makes each tick's :class:`~twist_core.playback.ReferenceFrame` from

* the **stream** (a :class:`~twist_reference.teleop_stream.StreamSample`), its root **aligned** to the robot: at the
  start of every segment, when the root samples appear and when a mode takes the root from the stream again, a
  yaw rotation and planar shift are fixed that put the stream's root at the anchor (the robot's position and
  heading, or where the reference is when the robot's pose is unknown); height, roll and pitch stay the
  stream's. Without root samples the root stays where the reference is, upright, its height putting the lower
  foot on the floor;
* **standing**: while the stream is not active (waiting, silent) the stream's share blends to the default pose
  over ``silence_blend`` seconds, and back to the stream over ``engage_blend`` seconds when it returns;
* the **CMG** frame (legs and root following ``/cmd_vel``), or standing where there is no CMG;
* the **mode** (:class:`Mode`): whole-body (every joint and the root from the stream), upper-body (the joints of
  the ``upper_body`` group from the stream, the legs and root from the CMG) or CMG-only; a switch blends each
  joint and the root over ``mode_blend`` seconds, never a jump.

The blended reference is then **limited**: joint positions to the limits of ``config/g1.yaml``, each joint's
change per tick to ``joint_speed_scale`` x its velocity limit, the root's to ``max_root_speed`` and
``max_root_turn_rate``. Velocities are the limited reference's own differences; key bodies by forward
kinematics.
"""

from __future__ import annotations

import dataclasses
import enum

import numpy as np

from twist_reference.teleop_stream import StreamSample
from twist_core import rotations
from twist_core.model import KeyBodyKinematics, PelvisHeight
from twist_core.playback import Phase, ReferenceFrame, smoothstep
from twist_core.robot import RobotSpec

UPPER_BODY_GROUP = "upper_body"


class Mode(enum.Enum):
    """Where the joints and the root come from."""

    WHOLE_BODY = "whole_body"   # every joint and the root from the stream
    UPPER_BODY = "upper_body"   # waist and arms from the stream; legs and root from the CMG
    CMG_ONLY = "cmg_only"       # the CMG alone

    @property
    def uses_cmg(self) -> bool:
        """Whether the mode takes anything from the CMG."""
        return self != Mode.WHOLE_BODY


@dataclasses.dataclass(frozen=True)
class MixerSettings:
    """Blends [s] and limits of the reference."""

    engage_blend: float = 1.0       # standing -> stream when the stream (re)appears
    silence_blend: float = 1.0     # stream -> standing after silence
    mode_blend: float = 1.0         # between modes
    joint_speed_scale: float = 0.5  # each joint moves at most this fraction of its velocity limit (config/g1.yaml)
    max_root_speed: float = 2.0     # m/s
    max_root_turn_rate: float = 4.0  # rad/s

    def __post_init__(self) -> None:
        """Blends >= 0, limits > 0."""
        for name in ("engage_blend", "silence_blend", "mode_blend"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("joint_speed_scale", "max_root_speed", "max_root_turn_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


class Ramp:
    """A weight that moves toward a target (0 or 1) at a fixed rate; read through a smoothstep."""

    def __init__(self, value: np.ndarray | float) -> None:
        """Start at ``value`` (scalar or per element)."""
        self.value = np.array(value, dtype=np.float64)

    def step(self, target: np.ndarray | float, dt: float, duration: float) -> np.ndarray:
        """Move toward ``target`` by ``dt / duration`` (at once when ``duration`` is 0); the smoothed weight."""
        delta = np.inf if duration <= 0 else dt / duration
        self.value = np.clip(target, self.value - delta, self.value + delta)
        return smooth(self.value)


def smooth(x: np.ndarray) -> np.ndarray:
    """The smoothstep of each element of ``x`` (in [0, 1])."""
    return np.vectorize(lambda v: smoothstep(float(v))[0], otypes=[np.float64])(x)


def planar_pose(pose: np.ndarray) -> tuple[np.ndarray, float]:
    """(x, y) and heading of a root pose (x, y, z, qw, qx, qy, qz)."""
    return pose[:2].copy(), float(rotations.yaw(pose[3:]))


class TeleopMixer:
    """See the module docstring. One :meth:`step` per control tick of ``dt`` seconds."""

    def __init__(self, spec: RobotSpec, dt: float, settings: MixerSettings = MixerSettings(),
                 mode: Mode = Mode.WHOLE_BODY) -> None:
        """Standing at the origin facing +x, in ``mode``."""
        self.spec, self.dt, self.settings = spec, dt, settings
        self.upper = np.zeros(spec.num_joints, dtype=bool)
        self.upper[spec.group_indices(UPPER_BODY_GROUP)] = True
        self.max_joint_step = settings.joint_speed_scale * spec.velocity_limits * dt
        self.height = PelvisHeight(spec)
        self.key_bodies = KeyBodyKinematics(spec)
        self.mode = mode
        self.standing = Ramp(1.0)   # 1: standing, 0: the stream
        joint_target, root_target = self._mode_weights(mode)
        self.joint_weight = Ramp(joint_target)  # per joint, 1: from the stream, 0: from the CMG
        self.root_weight = Ramp(root_target)
        self._alignment: tuple[float, np.ndarray] | None = None  # (yaw, xy shift) source -> robot world
        self._segment = -1
        self._realign = True
        self.previous: ReferenceFrame | None = None
        self.place(np.zeros(2), 0.0)

    def place(self, xy: np.ndarray, heading: float) -> None:
        """Stand at ``xy`` facing ``heading`` (no previous frame: the next step is not limited against one)."""
        joints = self.spec.default_pose.copy()
        pose = np.concatenate([[xy[0], xy[1], self.height(joints)], rotations.from_yaw(heading)])
        self.previous = None
        self._pose, self._joints = pose, joints
        self._realign = True

    @property
    def root_pose(self) -> tuple[np.ndarray, float]:
        """(x, y) and heading of the latest reference."""
        return planar_pose(self._pose)

    def _mode_weights(self, mode: Mode) -> tuple[np.ndarray, float]:
        if mode == Mode.WHOLE_BODY:
            return np.ones(self.spec.num_joints), 1.0
        if mode == Mode.UPPER_BODY:
            return self.upper.astype(np.float64), 0.0
        return np.zeros(self.spec.num_joints), 0.0

    @property
    def uses_cmg(self) -> bool:
        """Whether the next reference takes anything from the CMG (its mode does, or a blend away from it runs)."""
        return self.mode.uses_cmg or self.root_weight.value < 1.0 or bool(np.any(self.joint_weight.value < 1.0))

    def set_mode(self, mode: Mode) -> None:
        """Switch to ``mode``; the reference blends over ``mode_blend``. Taking the root back realigns the stream."""
        if self._mode_weights(mode)[1] > self._mode_weights(self.mode)[1]:
            self._realign = True
        self.mode = mode

    # -- one tick -------------------------------------------------------------------------------------
    def step(self, stream: StreamSample, cmg: ReferenceFrame | None,
             anchor: tuple[np.ndarray, float] | None) -> ReferenceFrame:
        """This tick's reference from the stream, the CMG frame (None: standing instead) and the robot's pose.

        ``anchor``: the robot's (x, y) and heading, where a newly aligned stream root is put (None: where the
        reference is).
        """
        s, dt = self.settings, self.dt
        engaged = stream.state.active
        standing = self.standing.step(0.0 if engaged else 1.0, dt, s.engage_blend if engaged else s.silence_blend)
        joint_target, root_target = self._mode_weights(self.mode)
        joint_weight = self.joint_weight.step(joint_target, dt, s.mode_blend)
        root_weight = float(self.root_weight.step(root_target, dt, s.mode_blend))

        held_xy, held_heading = self.root_pose
        stream_joints = self.spec.default_pose if stream.joint_pos is None else stream.joint_pos
        stream_joints = standing * self.spec.default_pose + (1.0 - standing) * stream_joints
        stream_pose = self._stream_root(stream, anchor, held_xy, held_heading, stream_joints, standing)
        if cmg is None:  # standing where the reference is
            cmg_joints = self.spec.default_pose
            cmg_pose = np.concatenate([[held_xy[0], held_xy[1], self.height(cmg_joints)],
                                       rotations.from_yaw(held_heading)])
        else:
            cmg_joints, cmg_pose = cmg.joint_pos, np.concatenate([cmg.root_pos, cmg.root_quat])
        joints = joint_weight * stream_joints + (1.0 - joint_weight) * cmg_joints
        pose = np.concatenate([(1.0 - root_weight) * cmg_pose[:3] + root_weight * stream_pose[:3],
                               rotations.slerp(cmg_pose[3:], stream_pose[3:], root_weight)])
        joints, pose = self._limit(joints, pose)
        phase = Phase.HOLD if self.standing.value >= 1.0 and self.mode == Mode.WHOLE_BODY else Phase.PLAY
        frame = self._frame(phase, joints, pose)
        self.previous, self._joints, self._pose = frame, joints, pose
        return frame

    def _stream_root(self, stream: StreamSample, anchor: tuple[np.ndarray, float] | None, held_xy: np.ndarray,
                     held_heading: float, joints: np.ndarray, standing: float) -> np.ndarray:
        """The stream's root pose, aligned (standing or without root samples: upright where the reference is)."""
        if stream.segment != self._segment or stream.root_pose is None:
            self._realign = True
            self._segment = stream.segment
        upright = np.concatenate([[held_xy[0], held_xy[1], self.height(joints)], rotations.from_yaw(held_heading)])
        if stream.root_pose is None:
            return upright
        if self._realign:
            xy, heading = anchor if anchor is not None else (held_xy, held_heading)
            source_xy, source_heading = planar_pose(stream.root_pose)
            yaw = heading - source_heading
            shift = np.asarray(xy, dtype=np.float64) - rotations.rotate(rotations.from_yaw(yaw),
                                                                        np.r_[source_xy, 0.0])[:2]
            self._alignment, self._realign = (yaw, shift), False
        yaw, shift = self._alignment
        turn = rotations.from_yaw(yaw)
        aligned = np.concatenate([rotations.rotate(turn, stream.root_pose[:3]) + np.r_[shift, 0.0],
                                  rotations.multiply(turn, stream.root_pose[3:])])
        return np.concatenate([(1.0 - standing) * aligned[:3] + standing * upright[:3],
                               rotations.slerp(aligned[3:], upright[3:], standing)])

    def _limit(self, joints: np.ndarray, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Joint limits; per-tick steps of joints and root within the speed limits of the previous frame."""
        joints = np.clip(joints, self.spec.lower_limits, self.spec.upper_limits)
        if self.previous is None:
            return joints, pose
        s = self.settings
        joints = np.clip(joints, self._joints - self.max_joint_step, self._joints + self.max_joint_step)
        move = pose[:3] - self._pose[:3]
        distance = float(np.linalg.norm(move))
        limit = s.max_root_speed * self.dt
        position = self._pose[:3] + (move * (limit / distance) if distance > limit else move)
        previous_quat = self._pose[3:]
        angle = float(np.linalg.norm(rotations.angular_velocity(np.stack([previous_quat, pose[3:]]), 1.0)[0]))
        limit = s.max_root_turn_rate * self.dt
        quat = rotations.slerp(previous_quat, pose[3:], limit / angle) if angle > limit else pose[3:]
        return joints, np.concatenate([position, rotations.normalize(quat)])

    def _frame(self, phase: Phase, joints: np.ndarray, pose: np.ndarray) -> ReferenceFrame:
        position, quat = pose[:3], pose[3:]
        if self.previous is None:
            joint_vel, lin_vel, ang_vel = np.zeros_like(joints), np.zeros(3), np.zeros(3)
        else:
            joint_vel = (joints - self._joints) / self.dt
            lin_vel = rotations.rotate_inverse(quat, (position - self._pose[:3]) / self.dt)
            omega = rotations.angular_velocity(np.stack([self._pose[3:], quat]), self.dt)[1]
            ang_vel = rotations.rotate_inverse(quat, omega)
        keys = self.key_bodies(position, quat, joints)[0]
        return ReferenceFrame(phase, position.copy(), quat.copy(), lin_vel, ang_vel, joints.copy(), joint_vel,
                              rotations.rotate_inverse(quat, keys - position))
