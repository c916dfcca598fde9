"""The CMG generator behind the ``cmg_reference`` node: model state, joint limits, root and key bodies; no ROS.

:class:`CmgGenerator` holds the current joint frame (positions and velocities, starting at the model's
``standing_frame``) and the synthesized root (:class:`~cmg_node.command_filter.RootIntegrator`). Each
:meth:`~CmgGenerator.advance` steps the model with a command, clamps the joint positions to the limits of
``config/g1.yaml`` and keeps the clamped frame as the next input. :meth:`~CmgGenerator.frame` turns the state into
a :class:`twist_core.playback.ReferenceFrame` (root velocities in the root frame = the command; key bodies by
forward kinematics), and :meth:`~CmgGenerator.future` rolls the model ahead with a held command.
"""

from __future__ import annotations

import numpy as np

from cmg_node.command_filter import RootIntegrator
from twist_core import rotations
from twist_core.cmg_runtime import CmgRuntime
from twist_core.model import key_body_positions, standing_height
from twist_core.playback import Phase, ReferenceFrame
from twist_core.robot import RobotSpec

IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])


class NonFiniteOutput(RuntimeError):
    """The model returned NaN/Inf; the generator state is left as it was."""


class CmgGenerator:
    """See the module docstring."""

    def __init__(self, runtime: CmgRuntime, spec: RobotSpec) -> None:
        """Start at the model's standing frame, at the origin facing +x."""
        self.runtime, self.spec = runtime, spec
        self.dt = 1.0 / runtime.fps
        self.root = RootIntegrator(standing_height(spec, spec.default_pose))
        self.reset()

    def reset(self) -> None:
        """Back to the standing frame (the root stays where it is)."""
        self.motion = self._clamp(self.runtime.standing_frame)

    def align(self, position_xy, heading: float) -> None:
        """Put the root at the robot's position and heading."""
        self.root.align(position_xy, heading)

    def _clamp(self, motion: np.ndarray) -> np.ndarray:
        motion = np.array(motion, dtype=np.float64)
        n = self.spec.num_joints
        motion[..., :n] = np.clip(motion[..., :n], self.spec.lower_limits, self.spec.upper_limits)
        return motion

    def _step(self, motion: np.ndarray, command: np.ndarray) -> np.ndarray:
        out = self.runtime.step(motion, command)
        if not np.all(np.isfinite(out)):
            raise NonFiniteOutput(f"the model returned non-finite values for command {np.round(command, 4).tolist()}")
        return self._clamp(out)

    def advance(self, command: np.ndarray) -> None:
        """One frame ahead under ``command`` (clamped to the model's range already); raises NonFiniteOutput."""
        self.motion = self._step(self.motion, command)
        self.root.step(command, self.dt)

    def frame(self, command: np.ndarray, still: bool = False, phase: Phase = Phase.PLAY) -> ReferenceFrame:
        """The current state as a reference frame moving at ``command`` (``still``: every velocity zero)."""
        return self._frames([self.motion], [self.root.position], [self.root.heading],
                            np.zeros(3) if still else command, still, phase)[0]

    def standing(self) -> ReferenceFrame:
        """The standing frame at the current root pose, at rest (the hold frame after a fault)."""
        return self._frames([self._clamp(self.runtime.standing_frame)], [self.root.position], [self.root.heading],
                            np.zeros(3), True, Phase.HOLD)[0]

    def future(self, command: np.ndarray, count: int, stride: int) -> list[tuple[float, ReferenceFrame]]:
        """``count`` frames every ``stride`` model steps, rolled from the current state under a held ``command``.

        Returns (seconds ahead, frame) pairs; raises NonFiniteOutput. The state is not changed.
        """
        if count <= 0:
            return []
        motion, root = self.motion, self.root.copy()
        motions, positions, headings = [], [], []
        for _ in range(count):
            for _ in range(stride):
                motion = self._step(motion, command)
                root.step(command, self.dt)
            motions.append(motion)
            positions.append(root.position)
            headings.append(root.heading)
        frames = self._frames(motions, positions, headings, command, False, Phase.PLAY)
        return [((k + 1) * stride * self.dt, frame) for k, frame in enumerate(frames)]

    def _frames(self, motions, positions, headings, command, still: bool, phase: Phase) -> list[ReferenceFrame]:
        n = self.spec.num_joints
        motions = np.asarray(motions)
        # roll and pitch are zero, so key bodies in the root frame depend on the joints only
        keys = key_body_positions(self.spec, np.zeros((len(motions), 3)), np.tile(IDENTITY, (len(motions), 1)),
                                  motions[:, :n])
        command = np.asarray(command, dtype=np.float64)
        lin = np.array([command[0], command[1], 0.0])
        ang = np.array([0.0, 0.0, command[2]])
        return [ReferenceFrame(phase, np.asarray(position, dtype=np.float64), rotations.from_yaw(heading), lin.copy(),
                               ang.copy(), motion[:n].copy(), np.zeros(n) if still else motion[n:].copy(), key)
                for motion, position, heading, key in zip(motions, positions, headings, keys)]
