"""Playing a motion as a reference: alignment to the robot, blend-in/out, looping, speed, future frames.

:class:`MotionPlayer` maps a playback time tau (seconds since the start, frozen while paused) to a
:class:`ReferenceFrame`. The timeline is:

1. **blend-in** (``blend_in`` s): from the robot's pose at the start (its joints when :meth:`MotionPlayer.align`
   is given them, else the default pose), standing at the aligned start, to the motion's first frame, with a
   smoothstep weight;
2. **play**: the motion at ``speed``; when looping, every lap continues from where the previous one ended
   (its end position and heading), so walking clips keep walking forward;
3. **blend-out** (``blend_out`` s, not looping): back to the default pose where the motion ended;
4. **hold**: the default pose, flagged as a hold reference.

The first frame is aligned to the robot's position (x, y) and heading, so the reference starts where the
robot stands. Everything is a pure function of tau, so future frames are just later taus.
"""

from __future__ import annotations

import dataclasses
import enum

import numpy as np

from twist_core import rotations
from twist_core.model import key_body_positions, standing_height
from twist_core.motion import Motion
from twist_core.robot import RobotSpec


class Phase(enum.Enum):
    """Where on the timeline a frame lies."""

    BLEND_IN = "blend_in"
    PLAY = "play"
    BLEND_OUT = "blend_out"
    HOLD = "hold"


@dataclasses.dataclass
class ReferenceFrame:
    """One reference frame; velocities and key bodies in the root frame (TWIST's convention)."""

    phase: Phase
    root_pos: np.ndarray            # (3,) world
    root_quat: np.ndarray           # (4,) wxyz world
    root_lin_vel_local: np.ndarray  # (3,)
    root_ang_vel_local: np.ndarray  # (3,)
    joint_pos: np.ndarray           # (29,)
    joint_vel: np.ndarray           # (29,)
    key_body_pos_local: np.ndarray  # (K, 3)


def standing_frame(spec: RobotSpec, position_xy: np.ndarray, heading: float) -> ReferenceFrame:
    """The default pose standing still at ``position_xy`` with ``heading`` (a hold reference)."""
    height = standing_height(spec, spec.default_pose)
    root_pos = np.array([position_xy[0], position_xy[1], height])
    root_quat = rotations.from_yaw(heading)
    keys = key_body_positions(spec, root_pos, root_quat, spec.default_pose)[0]
    return ReferenceFrame(Phase.HOLD, root_pos, root_quat, np.zeros(3), np.zeros(3), spec.default_pose.copy(),
                          np.zeros(spec.num_joints), rotations.rotate_inverse(root_quat, keys - root_pos))


def smoothstep(x: float) -> tuple[float, float]:
    """Weight 3x^2 - 2x^3 on [0, 1] and its derivative."""
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x), 6.0 * x * (1.0 - x)


class MotionPlayer:
    """See the module docstring."""

    def __init__(self, motion: Motion, spec: RobotSpec, loop: bool = False, speed: float = 1.0,
                 blend_in: float = 1.0, blend_out: float = 1.0) -> None:
        """Prepare playback; call :meth:`align` to start where the robot is (default: origin, heading 0)."""
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        if blend_in < 0 or blend_out < 0:
            raise ValueError("blend times must be >= 0")
        self.motion, self.spec = motion, spec
        self.loop, self.speed, self.blend_in, self.blend_out = loop, speed, blend_in, blend_out
        self.play_duration = motion.duration / speed
        self._local_vel = motion.root_lin_vel_local()
        self._local_ang = motion.root_ang_vel_local()
        self._local_keys = motion.key_body_pos_local()
        self._yaw = rotations.yaw(motion.root_quat)
        self._height = standing_height(spec, spec.default_pose)
        first, last = motion.root_pos[0], motion.root_pos[-1]
        # one lap's displacement and turn, in the heading frame of the first frame
        self._lap_shift = rotations.rotate_inverse(rotations.from_yaw(self._yaw[0]),
                                                   (last - first) * np.array([1.0, 1.0, 0.0]))
        self._lap_turn = self._yaw[-1] - self._yaw[0]
        self.align(np.zeros(2), 0.0)

    def align(self, position_xy: np.ndarray, heading: float, joint_pos: np.ndarray | None = None) -> None:
        """Make the first frame start at ``position_xy`` with ``heading`` (the robot's current pose).

        The blend-in starts from ``joint_pos`` (the robot's joints, motor order), or from the default pose.
        """
        self._start_xy = np.asarray(position_xy, dtype=np.float64)[:2].copy()
        self._start_yaw = float(heading)
        self._start_joints = self.spec.default_pose.copy() if joint_pos is None else \
            np.asarray(joint_pos, dtype=np.float64).copy()

    @property
    def end_time(self) -> float:
        """tau at which the hold phase starts (inf when looping)."""
        return np.inf if self.loop else self.blend_in + self.play_duration + self.blend_out

    def phase(self, tau: float) -> Phase:
        """The phase at playback time tau."""
        if tau < self.blend_in:
            return Phase.BLEND_IN
        if self.loop or tau <= self.blend_in + self.play_duration:
            return Phase.PLAY
        return Phase.BLEND_OUT if tau < self.end_time else Phase.HOLD

    # -- the timeline -------------------------------------------------------------------------------------
    def frame(self, tau: float) -> ReferenceFrame:
        """The reference at playback time tau."""
        phase = self.phase(tau)
        if phase == Phase.PLAY:
            lap, motion_time = self._lap_and_time(tau)
            return self._play_frame(lap, motion_time)
        if phase == Phase.BLEND_IN:
            target = self._play_frame(0, 0.0)
            start_pos, start_yaw = np.r_[self._start_xy, self._height], self._start_yaw
            weight, rate = smoothstep(tau / self.blend_in) if self.blend_in > 0 else (1.0, 0.0)
            return self._blend(phase, start_pos, start_yaw, target, weight, rate / max(self.blend_in, 1e-9),
                               self._start_joints)
        end = self._play_frame(0, self.motion.duration)
        end_pos, end_yaw = np.r_[end.root_pos[:2], self._height], rotations.yaw(end.root_quat)
        if phase == Phase.HOLD:
            return self._blend(phase, end_pos, end_yaw, end, 0.0, 0.0)
        x = (tau - self.blend_in - self.play_duration) / self.blend_out
        weight, rate = smoothstep(x)
        return self._blend(phase, end_pos, end_yaw, end, 1.0 - weight, -rate / self.blend_out)

    def _lap_and_time(self, tau: float) -> tuple[int, float]:
        elapsed = (tau - self.blend_in) * self.speed
        if not self.loop or self.motion.duration <= 0:
            return 0, min(max(elapsed, 0.0), self.motion.duration)
        lap = int(elapsed // self.motion.duration)
        return lap, elapsed - lap * self.motion.duration

    def _lap_transform(self, lap: int) -> tuple[np.ndarray, float]:
        """World start position (x, y) and heading of lap ``lap``."""
        xy, heading = self._start_xy.copy(), self._start_yaw
        for _ in range(lap):
            xy = xy + rotations.rotate(rotations.from_yaw(heading), self._lap_shift)[:2]
            heading += self._lap_turn
        return xy, heading

    def _play_frame(self, lap: int, motion_time: float) -> ReferenceFrame:
        m = self.motion
        position = min(max(motion_time * m.fps, 0.0), m.num_frames - 1)
        lo = min(int(np.floor(position)), m.num_frames - 2)
        frac = position - lo

        def lerp(x: np.ndarray) -> np.ndarray:
            return (1.0 - frac) * x[lo] + frac * x[lo + 1]

        xy, heading = self._lap_transform(lap)
        delta = rotations.from_yaw(heading - self._yaw[0])
        relative = (lerp(m.root_pos) - m.root_pos[0]) * np.array([1.0, 1.0, 0.0])
        root_pos = rotations.rotate(delta, relative) + np.array([xy[0], xy[1], 0.0])
        root_pos[2] = lerp(m.root_pos)[2]
        root_quat = rotations.multiply(delta, rotations.slerp(m.root_quat[lo], m.root_quat[lo + 1], frac))
        return ReferenceFrame(Phase.PLAY, root_pos, root_quat, lerp(self._local_vel) * self.speed,
                              lerp(self._local_ang) * self.speed, lerp(m.joint_pos), lerp(m.joint_vel) * self.speed,
                              lerp(self._local_keys))

    def _blend(self, phase: Phase, pos: np.ndarray, heading: float, target: ReferenceFrame, weight: float,
               weight_rate: float, origin: np.ndarray | None = None) -> ReferenceFrame:
        """Standing at (pos, heading) in the ``origin`` joint pose (default pose) blended towards ``target``."""
        default = self.spec.default_pose if origin is None else origin
        joint_pos = (1.0 - weight) * default + weight * target.joint_pos
        joint_vel = weight_rate * (target.joint_pos - default) + weight * target.joint_vel
        root_pos = (1.0 - weight) * pos + weight * target.root_pos
        root_quat = rotations.slerp(rotations.from_yaw(heading), target.root_quat, weight)
        target_vel = rotations.rotate(target.root_quat, target.root_lin_vel_local)
        world_vel = weight_rate * (target.root_pos - pos) + weight * target_vel
        keys_world = key_body_positions(self.spec, root_pos, root_quat, joint_pos)[0]
        keys_local = rotations.rotate_inverse(root_quat, keys_world - root_pos)
        return ReferenceFrame(phase, root_pos, root_quat, rotations.rotate_inverse(root_quat, world_vel),
                              weight * target.root_ang_vel_local, joint_pos, joint_vel, keys_local)
