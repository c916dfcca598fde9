"""The CMG following cmd_vel, as the reference nodes run it (``cmg_reference``, ``teleop_reference``): no ROS.

:class:`CmgSource` is built from the node's parameters (:data:`CMG_PARAMETERS`): the exported model
(:class:`~twist_core.cmg_runtime.CmgRuntime`, checked against ``config/g1.yaml``; its fps must equal the node's
rate), the command filter (timeout, range, acceleration limits), the standing hold, the velocity and heading
holds and the generator (:class:`~twist_reference.cmg_generator.CmgGenerator`). Every tick
:meth:`CmgSource.reference` filters the latest command, adds the velocity and heading corrections, steps the model
(not on the first tick after a start: that frame is the standing frame itself) and returns the frame with its future
window.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from twist_reference.cmg_generator import CmgGenerator
from twist_reference.command_filter import CommandFilter, HeadingHold, Received, VelocityHold
from twist_core.cmg_runtime import CmgRuntime, StandingHold
from twist_core.playback import ReferenceFrame
from twist_core.robot import RobotSpec
from twist_node_common.parameters import SetupError

#: The CMG's parameters: name -> (default, description).
CMG_PARAMETERS: dict[str, tuple[Any, str]] = {
    "model_file": ("", "exported CMG (.onnx) to run (required)"),
    "cmd_timeout": (1.5, "seconds the last cmd_vel is held; older, it is stale and the command decays to zero "
                         "(1.5: a 1 Hz publisher such as `ros2 topic pub` holds; keyboard teleops that publish on "
                         "key press only stop 1.5 s after the last press)"),
    "max_linear_accel": (1.0, "acceleration limit on the commanded (vx, vy) [m/s^2]"),
    "max_yaw_accel": (2.0, "acceleration limit on the commanded yaw rate [rad/s^2]"),
    "threads": (1, "ONNX Runtime intra-op threads"),
    "standing_hold": (True, "at zero command, settle into the standing frame and hold it (the model alone may "
                            "step in place)"),
    "standing_delay": (0.2, "seconds of zero command before settling"),
    "standing_blend": (0.6, "seconds to blend into the standing frame"),
    "standing_deadband": ([0.03, 0.03, 0.05], "commands with every |vx|, |vy| [m/s], |yaw rate| [rad/s] within "
                                              "these count as zero"),
    "heading_hold_gain": (2.0, "walking or turning: yaw rate added per rad of heading error [1/s]; 0 turns it off"),
    "heading_hold_max_correction": (0.5, "largest yaw rate the heading hold adds [rad/s]"),
    "heading_hold_max_error": (0.5, "the target heading stays within this of the robot's [rad]"),
    "velocity_hold_gain": (0.5, "walking or turning: (vx, vy) added per second and m/s of velocity error (commanded "
                                "- leg odometry's) [1/s]; 0 turns it off"),
    "velocity_hold_max_correction": (0.3, "largest (vx, vy) the velocity hold adds, per axis [m/s]"),
    "velocity_hold_settle": (1.0, "seconds a command holds before the velocity hold integrates its error"),
}


class CmgSource:
    """See the module docstring."""

    def __init__(self, p: dict[str, Any], spec: RobotSpec, rate: float) -> None:
        """Load and check the model and build the pipeline from parameters ``p`` (raises CmgModelError/SetupError)."""
        if not p["model_file"]:
            raise SetupError("parameter model_file is empty")
        if p["threads"] < 0:
            raise SetupError(f"threads must be >= 0, got {p['threads']}")
        self.runtime = runtime = CmgRuntime(p["model_file"], spec, threads=p["threads"])
        if abs(runtime.fps - rate) > 1e-6:
            raise SetupError(f"rate {rate:g} Hz differs from the model's fps {runtime.fps:g} (set rate:="
                             f"{runtime.fps:g})")
        try:
            self.filter = CommandFilter(runtime.command_min, runtime.command_max, p["cmd_timeout"],
                                        p["max_linear_accel"], p["max_yaw_accel"])
            hold = StandingHold(bool(p["standing_hold"]), p["standing_delay"], p["standing_blend"],
                                tuple(float(v) for v in p["standing_deadband"]))
            self.heading_hold = HeadingHold(p["heading_hold_gain"], p["heading_hold_max_correction"],
                                            p["heading_hold_max_error"])
            self.velocity_hold = VelocityHold(p["velocity_hold_gain"], p["velocity_hold_max_correction"],
                                              p["velocity_hold_settle"], command_min=tuple(runtime.command_min[:2]),
                                              command_max=tuple(runtime.command_max[:2]))
        except (TypeError, ValueError) as exc:
            raise SetupError(str(exc)) from None
        self.generator = CmgGenerator(runtime, spec, hold)
        self.command = np.zeros(3)
        self._fresh = True  # the first frame after a start is the standing frame itself

    def receive(self, linear_x: float, linear_y: float, yaw_rate: float, now: float) -> Received:
        """A cmd_vel at ``now`` (the filter's verdict and warning)."""
        return self.filter.receive([linear_x, linear_y, yaw_rate], now)

    def align(self, xy: np.ndarray, heading: float) -> None:
        """Start (again) at ``xy``, ``heading`` from the current frame."""
        self.generator.align(xy, heading)
        self._reset_holds()
        self._fresh = True

    def _reset_holds(self) -> None:
        self.heading_hold.reset()
        self.velocity_hold.reset()

    def stop(self) -> None:
        """Zero command from now on (pause); the command restarts from zero."""
        self.filter.stop()
        self._reset_holds()
        self.command = np.zeros(3)

    def reset(self) -> None:
        """Standing frame, zero command."""
        self.generator.reset()
        self.filter.reset()
        self._reset_holds()
        self.command = np.zeros(3)

    def reference(self, now: float, heading: float | None, period: float, count: int = 0, stride: int = 1,
                  velocity: np.ndarray | None = None) -> tuple[ReferenceFrame, list[tuple[float, ReferenceFrame]]]:
        """One tick: the frame and ``count`` future frames every ``stride`` model steps.

        The filtered command (+ the velocity hold toward the robot's measured ``velocity``, its (vx, vy) in the
        heading frame, and the heading hold toward its ``heading``; None: unknown) steps the model. Raises
        NonFiniteOutput (then call :meth:`fault`).
        """
        self.command = self.filter.update(now, period)
        command = self.heading_hold.update(self.velocity_hold.update(self.command, velocity, period), heading, period)
        if self._fresh:
            self._fresh = False
        else:
            self.generator.advance(command)
        return self.generator.reference(command, count, stride)

    def still(self) -> ReferenceFrame:
        """The current frame at rest (paused)."""
        return self.generator.frame(self.command, still=True)

    def fault(self) -> ReferenceFrame:
        """After non-finite output: the standing frame where the root is (a hold frame); restart from standing."""
        hold = self.generator.standing()
        self.generator.reset()
        self.filter.stop()
        self._reset_holds()
        self.command = np.zeros(3)
        return hold

    def step_time(self, repeats: int = 7) -> float:
        """Median seconds of one model step (from the standing frame)."""
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            self.runtime.step(self.runtime.standing_frame, np.zeros(3))
            times.append(time.perf_counter() - start)
        return float(np.median(times[2:]))
