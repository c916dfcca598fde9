"""The CMG generator behind the ``cmg_reference`` node: model state, joint limits, root and key bodies; no ROS.

:class:`CmgGenerator` holds the current state of a :class:`twist_core.cmg_runtime.CmgFreeRun` (the joint frame,
starting at the model's ``standing_frame``, clamped to the limits of ``config/g1.yaml`` after every step, and the
standing hold at zero command) and the synthesized root (:class:`~twist_reference.command_filter.RootIntegrator`).
Commands go through :meth:`CmgFreeRun.command` first (range and standing deadband), so the root moves exactly as
the joints are told to. :meth:`~CmgGenerator.frame` turns the state into a
:class:`twist_core.playback.ReferenceFrame` (root velocities in the root frame = the command; key bodies by
forward kinematics), and :meth:`~CmgGenerator.future` rolls the model ahead with a held command.
"""

from __future__ import annotations

import numpy as np

from twist_reference.command_filter import RootIntegrator
from twist_core import rotations
from twist_core.cmg_runtime import CmgFreeRun, CmgRuntime, FreeRunState, StandingHold
from twist_core.model import key_body_positions, standing_height, standing_heights
from twist_core.playback import Phase, ReferenceFrame
from twist_core.robot import RobotSpec

IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])


class NonFiniteOutput(RuntimeError):
    """The model returned NaN/Inf; the generator state is left as it was."""


class CmgGenerator:
    """See the module docstring."""

    def __init__(self, runtime: CmgRuntime, spec: RobotSpec, hold: StandingHold | None = None) -> None:
        """Start at the model's standing frame, at the origin facing +x; ``hold``: the standing hold's settings."""
        self.runtime, self.spec = runtime, spec
        self.free_run = CmgFreeRun(runtime, hold)
        self.dt = self.free_run.dt
        self.root = RootIntegrator(standing_height(spec, spec.default_pose))
        # The states after 1, 2, ... steps under _plan_command from the current state (free-run state, xy, heading):
        # the future window's rollout, kept so that under an unchanged command each tick costs one model step.
        self._plan: list[tuple[FreeRunState, np.ndarray, float]] = []
        self._plan_command: np.ndarray | None = None
        self.reset()

    def reset(self) -> None:
        """Back to the standing frame (the root stays where it is)."""
        self.state = self.free_run.start()
        self._plan = []

    @property
    def motion(self) -> np.ndarray:
        """The current joint frame (58,): positions within limits, then velocities."""
        return self.state.motion

    def align(self, position_xy, heading: float) -> None:
        """Put the root at the robot's position and heading."""
        self.root.align(position_xy, heading)
        self._plan = []

    def _step(self, state: FreeRunState, command: np.ndarray) -> FreeRunState:
        out, _ = self.free_run.step(state, command)
        if not np.all(np.isfinite(out.motion)):
            raise NonFiniteOutput(f"the model returned non-finite values for command {np.round(command, 4).tolist()}")
        return out

    def _planned(self, command: np.ndarray) -> bool:
        """Whether the plan holds states under exactly ``command`` (else it is dropped)."""
        if self._plan_command is None or not np.array_equal(command, self._plan_command):
            self._plan, self._plan_command = [], np.array(command, dtype=np.float64)
        return bool(self._plan)

    def advance(self, command: np.ndarray) -> None:
        """One frame ahead under ``command``; raises NonFiniteOutput."""
        command = self.free_run.command(command)
        if self._planned(command):  # the model already computed this very step for the future window
            self.state, xy, heading = self._plan.pop(0)
            self.root.align(xy, heading)
            return
        self.state = self._step(self.state, command)
        self.root.step(command, self.dt)

    def _extend_plan(self, command: np.ndarray, steps: int) -> None:
        self._planned(command)
        if len(self._plan) >= steps:
            return
        state, xy, heading = self._plan[-1] if self._plan else (self.state, self.root.xy, self.root.heading)
        root = RootIntegrator(self.root.height)
        root.align(xy, heading)
        while len(self._plan) < steps:
            try:
                state = self._step(state, command)
            except NonFiniteOutput:
                self._plan = []
                raise
            root.step(command, self.dt)
            self._plan.append((state, root.xy.copy(), root.heading))

    def reference(self, command: np.ndarray, count: int = 0, stride: int = 1, still: bool = False
                  ) -> tuple[ReferenceFrame, list[tuple[float, ReferenceFrame]]]:
        """The current frame moving at ``command`` and ``count`` future frames every ``stride`` model steps.

        The future frames are rolled ahead from the current state under a held ``command`` (what the reference
        will be if the command does not change); they are (seconds ahead, frame) pairs. ``still`` publishes the
        current frame at rest (every velocity zero). Raises NonFiniteOutput; the current state is not changed.
        """
        command = self.free_run.command(command)
        states = [(self.state, self.root.xy, self.root.heading)]
        if count > 0:
            self._extend_plan(command, count * stride)
            states += [self._plan[(k + 1) * stride - 1] for k in range(count)]
        frames = self._frames([s[0].motion for s in states], [s[1] for s in states], [s[2] for s in states], command,
                              still, Phase.PLAY)
        return frames[0], [((k + 1) * stride * self.dt, frame) for k, frame in enumerate(frames[1:])]

    def frame(self, command: np.ndarray, still: bool = False) -> ReferenceFrame:
        """The current state as a reference frame moving at ``command`` (``still``: every velocity zero)."""
        return self.reference(command, still=still)[0]

    def future(self, command: np.ndarray, count: int, stride: int) -> list[tuple[float, ReferenceFrame]]:
        """The future window of :meth:`reference` alone."""
        return self.reference(command, count, stride)[1] if count > 0 else []

    def standing(self) -> ReferenceFrame:
        """The standing frame at the current root pose, at rest (the hold frame after a fault)."""
        return self._frames([self.free_run.standing], [self.root.xy], [self.root.heading],
                            np.zeros(3), True, Phase.HOLD)[0]

    def _frames(self, motions, xys, headings, command, still: bool, phase: Phase) -> list[ReferenceFrame]:
        n = self.spec.num_joints
        motions = np.asarray(motions)
        # roll and pitch are zero, so key bodies in the root frame depend on the joints only
        keys = key_body_positions(self.spec, np.zeros((len(motions), 3)), np.tile(IDENTITY, (len(motions), 1)),
                                  motions[:, :n])
        # the lowest foot on the floor, as in the CMG clips the tracker was trained on
        heights = standing_heights(self.spec, motions[:, :n])
        command = np.zeros(3) if still else np.asarray(command, dtype=np.float64)
        lin = np.array([command[0], command[1], 0.0])
        ang = np.array([0.0, 0.0, command[2]])
        return [ReferenceFrame(phase, np.array([xy[0], xy[1], height]), rotations.from_yaw(heading),
                               lin.copy(), ang.copy(), motion[:n].copy(), np.zeros(n) if still else motion[n:].copy(),
                               key)
                for motion, xy, heading, key, height in zip(motions, xys, headings, keys, heights)]
