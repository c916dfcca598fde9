"""ROS 2 node `cmg_reference`: the Conditional Motion Generator turns cmd_vel into a 50 Hz MotionReference.

The exported CMG (ONNX, twist_core.cmg_runtime) is checked against config/g1.yaml at start; a missing or bad file,
a metadata mismatch or a rate other than the model's fps stops the node with the reason (exit code 2). Generation
starts at the model's standing frame, at the robot's position and heading from ``robot_state``. Every tick: the
command (``cmd_vel``: linear.x, linear.y, angular.z; zero when older than ``cmd_timeout`` on the monotonic clock
(simulated time with use_sim_time); clamped to the model's
training range; NaN rejected) is acceleration-limited; while walking or turning, the velocity hold adds to (vx, vy)
the integral of ``velocity_hold_gain`` x (command - the robot's planar velocity, from leg odometry on
``robot_state``'s joints and IMU), learnt once a command has settled for ``velocity_hold_settle`` s, carried while
it keeps its direction, faded otherwise, at most ``velocity_hold_max_correction`` (``velocity_hold_gain`` 0 turns
it off; ``command_filter.VelocityHold``), and the heading hold adds ``heading_hold_gain`` x (target heading - robot
heading from ``robot_state``) to the yaw rate (the target moves with
the commanded yaw rate; ``heading_hold_gain`` 0 turns it off); the model steps the joints (clamped to the joint
limits and fed back), and the root is integrated from the command, its height putting the lower foot on the
floor. At zero command (within
``standing_deadband``) the joints settle into the standing frame after ``standing_delay`` and hold it
(``standing_hold``, twist_core.cmg_runtime.StandingHold). Non-finite model output is never
published: an invalid hold frame (standing) is sent and the generator restarts from standing.

Publishes ``motion_reference`` (RELIABLE, KEEP_LAST 1, source SOURCE_CMG), ``reference/joint_states`` and, with
tf2_msgs, the transform ``<frame_id> -> reference/<root>``. Subscribes ``cmd_vel`` (geometry_msgs/Twist, RELIABLE,
depth 10; remap it as needed) and ``robot_state``. Services: ``~/pause`` (std_srvs/SetBool: true freezes the
reference at rest, false resumes) and ``~/restart`` (std_srvs/Trigger: standing frame, zero command, align again).
"""

from __future__ import annotations

import json
import time

import numpy as np
from geometry_msgs.msg import Twist
from twist_msgs.msg import MotionReference

from twist_reference.cmg_generator import NonFiniteOutput
from twist_reference.cmg_source import CMG_PARAMETERS, CmgSource
from twist_reference.command_filter import Verdict, format_range
from twist_reference.node_common import COMMON_PARAMETERS, ReferenceNode, frame_is_finite
from twist_core.cmg_runtime import CmgModelError
from twist_core.robot import RobotSpecError
from twist_node_common.entry import run
from twist_node_common.parameters import SetupError, usage as _usage
from twist_node_common.qos import CMD_VEL_QOS

STATS_PERIOD = 5.0

PARAMETERS = {
    **CMG_PARAMETERS,
    "rate": (50.0, "publication rate [Hz]; must equal the model's fps"),
    **COMMON_PARAMETERS,
}
PARAMETERS["future_step"] = (0.1, "seconds between future frames (a multiple of 1/rate); the model is rolled "
                                  "ahead from the current frame with the current command")


def log_command(logger, received) -> None:
    """Log the command filter's warning about a cmd_vel (a rejected one throttled)."""
    if received.verdict == Verdict.REJECTED:
        logger.warning(received.warning, throttle_duration_sec=1.0)
    elif received.warning:
        logger.warning(received.warning)


class CmgReference(ReferenceNode):
    """The CMG reference publisher; see the module docstring."""

    def __init__(self, **overrides) -> None:
        """Load and check the model, then set up generation (raises CmgModelError/SetupError when it cannot)."""
        super().__init__("cmg_reference", PARAMETERS, overrides)
        p = self.p
        self.cmg = CmgSource(p, self.spec, p["rate"])
        if p["velocity_hold_gain"] > 0:
            self.enable_velocity_estimate()
        runtime = self.cmg.runtime
        self.stride = int(round(p["future_step"] * runtime.fps))
        if p["future_frames"] > 0 and (self.stride < 1 or abs(self.stride - p["future_step"] * runtime.fps) > 1e-6):
            raise SetupError(f"future_step {p['future_step']:g} s is not a multiple of 1/rate = {1 / runtime.fps:g} s")
        self._tick_times: list[float] = []
        self._latencies: list[float] = []
        self._stats_since = time.monotonic()
        self.create_subscription(Twist, "cmd_vel", self._on_cmd_vel, CMD_VEL_QOS)
        self.start_timer()
        log = self.get_logger()
        limits = format_range(runtime.command_min, runtime.command_max)
        log.info(f"model {runtime.path}: {runtime.fps:g} fps, command range {limits}, "
                 f"git commit {runtime.metadata.get('git_commit', '?')}")
        log.info(f"training data: {_summary(runtime.metadata.get('training_data'))}")
        log.info(f"cmd_timeout {p['cmd_timeout']} s, accel limits {p['max_linear_accel']} m/s^2 and "
                 f"{p['max_yaw_accel']} rad/s^2, {p['future_frames']} future frames every {p['future_step']} s, "
                 f"heading hold gain {p['heading_hold_gain']} 1/s (at most {p['heading_hold_max_correction']} rad/s), "
                 f"velocity hold gain {p['velocity_hold_gain']} 1/s (at most {p['velocity_hold_max_correction']} "
                 "m/s)")
        self._check_budget()

    def _check_budget(self) -> None:
        """Time the model; warn when the future window's rollout does not fit in a tick."""
        step = self.cmg.step_time()
        rollout = self.p["future_frames"] * self.stride
        message = f"model step {step * 1e3:.2f} ms"
        if rollout:
            message += (f"; the future window rolls {rollout} steps ahead whenever the command changes "
                        f"(~{(rollout + 1) * step * 1e3:.1f} ms of a {self.period * 1e3:.0f} ms tick; one step "
                        "while it holds)")
        if (rollout + 1) * step > 0.5 * self.period:
            self.get_logger().warning(message + ": ticks will run late while the command changes "
                                      "(fewer future_frames or a shorter future_step help)")
        else:
            self.get_logger().info(message)

    def _on_cmd_vel(self, msg: Twist) -> None:
        log_command(self.get_logger(), self.cmg.receive(msg.linear.x, msg.linear.y, msg.angular.z, self.safety_now()))

    def on_start(self, pose) -> None:
        """Start at the robot's pose (the origin without one) from the current (after a restart: standing) frame."""
        self.cmg.align(*(pose if pose is not None else (np.zeros(2), 0.0)))

    def on_pause(self, paused: bool) -> None:
        """Paused: the reference stays where it is, at rest; the command restarts from zero on resume."""
        self.cmg.stop()

    def on_restart(self) -> str:
        """Standing frame, zero command; the start gate aligns again."""
        self.cmg.reset()
        return "restarting: standing frame, zero command, align again"

    def produce(self):
        """Step the generator with the filtered command; the frame, its future window, source and validity."""
        start = time.perf_counter()
        try:
            if self.paused:  # frozen: the current frame at rest, now and in the future window
                frame = self.cmg.still()
                return frame, self._constant_future(frame), MotionReference.SOURCE_CMG, True
            frame, future = self.cmg.reference(self.safety_now(), self.robot_heading(), self.period,
                                               self.p["future_frames"], self.stride, self.robot_velocity())
            if not all(frame_is_finite(f) for f in [frame] + [f for _, f in future]):
                raise NonFiniteOutput("non-finite reference frame")
            return frame, future, MotionReference.SOURCE_CMG, True
        except NonFiniteOutput as exc:  # never publish NaN: an invalid hold frame, then start again from standing
            self.get_logger().error(f"{exc}: publishing an invalid hold frame and restarting from standing",
                                    throttle_duration_sec=1.0)
            hold = self.cmg.fault()
            return hold, self._constant_future(hold), MotionReference.SOURCE_HOLD, False
        finally:
            self._record(time.perf_counter() - start)

    def _constant_future(self, frame):
        return [(k * self.stride * self.period, frame) for k in range(1, self.p["future_frames"] + 1)]

    def _record(self, latency: float) -> None:
        """Tick times and generation latency; every STATS_PERIOD seconds, log the rate and latency percentiles."""
        now = time.monotonic()
        self._tick_times.append(now)
        self._latencies.append(latency)
        if now - self._stats_since < STATS_PERIOD or len(self._tick_times) < 2:
            return
        rate = (len(self._tick_times) - 1) / (self._tick_times[-1] - self._tick_times[0])
        p50, p99 = np.percentile(self._latencies, [50, 99]) * 1e3
        self.get_logger().info(f"rate {rate:.2f} Hz, generation latency p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
                               f"command {np.round(self.cmg.command, 3).tolist()}, velocity hold "
                               f"{np.round(self.cmg.velocity_hold.correction, 3).tolist()}")
        self._tick_times, self._latencies, self._stats_since = [now], [], now


def _summary(value, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "..."


def usage() -> str:
    """The --help text."""
    return _usage(__doc__, "ros2 run twist_reference cmg_reference --ros-args -p model_file:=MODEL.onnx "
                  "[-p NAME:=VALUE ...]", PARAMETERS)


def main(args: list[str] | None = None) -> None:
    """Entry point."""
    run(CmgReference, "cmg_reference", usage(), (CmgModelError, RobotSpecError), reason="cannot run the model",
        args=args)


if __name__ == "__main__":
    main()
