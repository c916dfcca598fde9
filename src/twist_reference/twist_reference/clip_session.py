"""Playing clips on the robot, without ROS: stand, start a clip where the robot is, blend in and out, stand again.

A :class:`ClipSession` is what ``mocap_reference`` publishes, one frame per tick:

1. **standing** at the robot's position and heading (a hold reference) until a clip is started;
2. a clip is started by :meth:`ClipSession.play` (the node: when the bridge hands the robot to the policy, or on
   its ``~/play`` service). It is **checked against the robot** first (:func:`start_problem`: its first frame
   must be within reach of the robot's current joints, pelvis height and tilt); a clip that is too far away is
   refused with the reason and the robot keeps standing;
3. the clip plays through :class:`~twist_core.playback.MotionPlayer`, aligned to the robot's current position
   and heading, blending in **from the robot's current joints** and out to the default pose;
4. afterwards the session holds the standing reference where the clip ended (the player's hold phase).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from twist_core import rotations
from twist_core.motion import Motion
from twist_core.playback import MotionPlayer, Phase, ReferenceFrame, standing_frame
from twist_core.policy_io import roll_pitch
from twist_core.robot import RobotSpec


@dataclasses.dataclass
class RobotPose:
    """What the session knows of the robot: planar position, heading, and where available joints, height, tilt."""

    xy: np.ndarray
    heading: float
    joint_pos: np.ndarray | None = None   # motor order
    height: float | None = None           # pelvis height (simulation only)
    tilt: float | None = None             # the larger of |roll| and |pitch| [rad]


@dataclasses.dataclass(frozen=True)
class StartLimits:
    """How far a clip's first frame may be from the robot for the clip to start (the blend-in bridges the rest)."""

    max_joint_error: float = 1.2    # rad, the largest joint difference
    max_height_error: float = 0.15  # m, pelvis height
    max_tilt: float = 0.5           # rad, the first frame's roll or pitch


def start_problem(spec: RobotSpec, motion: Motion, robot: RobotPose, limits: StartLimits,
                  frame: int = 0) -> str | None:
    """Why ``motion`` must not start from ``robot``'s pose (from its frame ``frame``: the first), or None."""
    which = "first frame" if frame == 0 else f"frame {frame}"
    tilt = float(np.abs(roll_pitch(motion.root_quat[frame])).max())
    if tilt > limits.max_tilt:
        return f"its {which} is tilted {tilt:.2f} rad (limit {limits.max_tilt:g})"
    if robot.tilt is not None and robot.tilt > limits.max_tilt:
        return f"the robot is tilted {robot.tilt:.2f} rad (limit {limits.max_tilt:g})"
    if robot.height is not None:
        height = float(motion.root_pos[frame, 2])
        error = abs(height - robot.height)
        if error > limits.max_height_error:
            return (f"its {which}'s pelvis height {height:.2f} m is {error:.2f} m from the "
                    f"robot's {robot.height:.2f} m (limit {limits.max_height_error:g})")
    if robot.joint_pos is not None:
        error = np.abs(motion.joint_pos[frame] - robot.joint_pos)
        worst = int(np.argmax(error))
        if error[worst] > limits.max_joint_error:
            where = "starts" if frame == 0 else f"is at frame {frame}"
            return (f"{spec.joint_names[worst]} {where} {error[worst]:.2f} rad from the robot's (limit "
                    f"{limits.max_joint_error:g})")
    return None


def first_startable_frame(spec: RobotSpec, motion: Motion, robot: RobotPose, limits: StartLimits) -> int | None:
    """The first frame of ``motion`` that passes :func:`start_problem` against ``robot``'s pose, or None.

    A part cut from the middle of a take can start with an arm raised; played from this frame on, it would pass
    the check the node makes when the robot is in that pose (``scripts/bench_motions.py --trim-start``).
    """
    return next((i for i in range(motion.num_frames) if start_problem(spec, motion, robot, limits, i) is None), None)


class ClipSession:
    """See the module docstring. Time advances by :meth:`advance` (the node's tick, frozen while paused)."""

    def __init__(self, spec: RobotSpec, limits: StartLimits = StartLimits(), loop: bool = False, speed: float = 1.0,
                 blend_in: float = 1.0, blend_out: float = 1.0) -> None:
        """A session standing at the origin until :meth:`stand` or :meth:`play`."""
        self.spec, self.limits = spec, limits
        self.options = dict(loop=loop, speed=speed, blend_in=blend_in, blend_out=blend_out)
        self.player: MotionPlayer | None = None
        self.name = ""
        self.tau = 0.0
        self._standing = standing_frame(spec, np.zeros(2), 0.0)

    @property
    def playing(self) -> bool:
        """Whether a clip is on (blending in, playing or blending out)."""
        return self.player is not None and self.player.phase(self.tau) != Phase.HOLD

    def stand(self, robot: RobotPose) -> None:
        """Stop any clip and stand where the robot is."""
        self.player = None
        self._standing = standing_frame(self.spec, robot.xy, robot.heading)

    def play(self, motion: Motion, robot: RobotPose, name: str) -> str | None:
        """Start ``motion`` from ``robot``'s pose; returns why it was refused (the session keeps standing)."""
        problem = start_problem(self.spec, motion, robot, self.limits)
        if problem is not None:
            return f"{name} refused: {problem}"
        player = MotionPlayer(motion, self.spec, **self.options)
        player.align(robot.xy, robot.heading, robot.joint_pos)
        self.player, self.name, self.tau = player, name, 0.0
        return None

    def restart(self, robot: RobotPose) -> str | None:
        """Play the current clip again from the robot's pose (None: nothing to restart, or refused: the reason)."""
        if self.player is None:
            return "no clip to restart"
        return self.play(self.player.motion, robot, self.name)

    def advance(self, dt: float) -> None:
        """Move the clip's time on by ``dt`` seconds."""
        self.tau += dt

    def frame(self, offset: float = 0.0) -> ReferenceFrame:
        """The reference ``offset`` seconds after the current time (standing without a clip)."""
        if self.player is None:
            return self._standing
        return self.player.frame(self.tau + offset)

    def frames(self, future: Sequence[float]) -> tuple[ReferenceFrame, list[tuple[float, ReferenceFrame]]]:
        """The current frame and the future frames at the given offsets."""
        return self.frame(), [(t, self.frame(t)) for t in future]


def robot_pose_from_state(xy: np.ndarray, heading: float, joint_pos: np.ndarray | None, quat_wxyz: np.ndarray | None,
                          height: float | None) -> RobotPose:
    """A RobotPose from a robot state's pieces (tilt from the orientation)."""
    tilt = None if quat_wxyz is None else float(np.abs(roll_pitch(rotations.normalize(quat_wxyz))).max())
    return RobotPose(np.asarray(xy, dtype=np.float64), float(heading), joint_pos, height, tilt)
