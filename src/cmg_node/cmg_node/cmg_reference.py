"""ROS 2 node `cmg_reference`: the Conditional Motion Generator turns cmd_vel into a 50 Hz MotionReference.

The exported CMG (ONNX, twist_core.cmg_runtime) is checked against config/g1.yaml at start; a missing or bad file,
a metadata mismatch or a rate other than the model's fps stops the node with the reason (exit code 2). Generation
starts at the model's standing frame, at the robot's position and heading from ``robot_state``. Every tick: the
command (``cmd_vel``: linear.x, linear.y, angular.z; zero when older than ``cmd_timeout`` on the monotonic clock
(simulated time with use_sim_time); clamped to the model's
training range; NaN rejected) is acceleration-limited; while walking or turning, the heading hold adds
``heading_hold_gain`` x (target heading - robot heading from ``robot_state``) to the yaw rate (the target moves with
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
from rclpy.qos import QoSProfile, ReliabilityPolicy
from twist_msgs.msg import MotionReference

from cmg_node.cmg_generator import CmgGenerator, NonFiniteOutput
from cmg_node.command_filter import CommandFilter, HeadingHold, Verdict, format_range
from cmg_node.node_common import COMMON_PARAMETERS, ReferenceNode, SetupError, frame_is_finite, run, usage as _usage
from twist_core.cmg_runtime import CmgModelError, CmgRuntime, StandingHold

CMD_VEL_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
STATS_PERIOD = 5.0

PARAMETERS = {
    "model_file": ("", "exported CMG (.onnx) to run (required)"),
    "rate": (50.0, "publication rate [Hz]; must equal the model's fps"),
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
    **COMMON_PARAMETERS,
}
PARAMETERS["future_step"] = (0.1, "seconds between future frames (a multiple of 1/rate); the model is rolled "
                                  "ahead from the current frame with the current command")


class CmgReference(ReferenceNode):
    """The CMG reference publisher; see the module docstring."""

    def __init__(self, **overrides) -> None:
        """Load and check the model, then set up generation (raises CmgModelError/SetupError when it cannot)."""
        super().__init__("cmg_reference", PARAMETERS, overrides)
        p = self.p
        if not p["model_file"]:
            raise SetupError("parameter model_file is empty")
        if p["threads"] < 0:
            raise SetupError(f"threads must be >= 0, got {p['threads']}")
        self.runtime = runtime = CmgRuntime(p["model_file"], self.spec, threads=p["threads"])
        if abs(runtime.fps - p["rate"]) > 1e-6:
            raise SetupError(f"rate {p['rate']:g} Hz differs from the model's fps {runtime.fps:g} (set rate:="
                             f"{runtime.fps:g})")
        self.stride = int(round(p["future_step"] * runtime.fps))
        if p["future_frames"] > 0 and (self.stride < 1 or abs(self.stride - p["future_step"] * runtime.fps) > 1e-6):
            raise SetupError(f"future_step {p['future_step']:g} s is not a multiple of 1/rate = {1 / runtime.fps:g} s")
        try:
            self.filter = CommandFilter(runtime.command_min, runtime.command_max, p["cmd_timeout"],
                                        p["max_linear_accel"], p["max_yaw_accel"])
        except ValueError as exc:
            raise SetupError(str(exc)) from None
        try:
            hold = StandingHold(bool(p["standing_hold"]), p["standing_delay"], p["standing_blend"],
                                tuple(float(v) for v in p["standing_deadband"]))
        except (TypeError, ValueError) as exc:
            raise SetupError(str(exc)) from None
        self.generator = CmgGenerator(runtime, self.spec, hold)
        try:
            self.heading_hold = HeadingHold(p["heading_hold_gain"], p["heading_hold_max_correction"],
                                            p["heading_hold_max_error"])
        except ValueError as exc:
            raise SetupError(str(exc)) from None
        self.command = np.zeros(3)
        self._fresh = True  # the first frame after a start is the standing frame itself
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
                 f"heading hold gain {p['heading_hold_gain']} 1/s (at most {p['heading_hold_max_correction']} rad/s)")
        self._check_budget()

    def _check_budget(self) -> None:
        """Time the model; warn when the future window's rollout does not fit in a tick."""
        times = []
        for _ in range(7):
            start = time.perf_counter()
            self.runtime.step(self.runtime.standing_frame, np.zeros(3))
            times.append(time.perf_counter() - start)
        step = float(np.median(times[2:]))
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
        received = self.filter.receive([msg.linear.x, msg.linear.y, msg.angular.z], self.safety_now())
        if received.verdict == Verdict.REJECTED:
            self.get_logger().warning(received.warning, throttle_duration_sec=1.0)
        elif received.warning:
            self.get_logger().warning(received.warning)

    def on_start(self, pose) -> None:
        """Start at the robot's pose (the origin without one) from the current (after a restart: standing) frame."""
        self.generator.align(*(pose if pose is not None else (np.zeros(2), 0.0)))
        self._fresh = True

    def on_pause(self, paused: bool) -> None:
        """Paused: the reference stays where it is, at rest; the command restarts from zero on resume."""
        self.filter.stop()
        self.heading_hold.reset()
        self.command = np.zeros(3)

    def on_restart(self) -> str:
        """Standing frame, zero command; the start gate aligns again."""
        self.generator.reset()
        self.filter.reset()
        self.heading_hold.reset()
        self.command = np.zeros(3)
        return "restarting: standing frame, zero command, align again"

    def produce(self):
        """Step the generator with the filtered command; the frame, its future window, source and validity."""
        start = time.perf_counter()
        try:
            if self.paused:  # frozen: the current frame at rest, now and in the future window
                frame = self.generator.frame(self.command, still=True)
                return frame, self._constant_future(frame), MotionReference.SOURCE_CMG, True
            self.command = self.filter.update(self.safety_now(), self.period)
            command = self.heading_hold.update(self.command, self.robot_heading(), self.period)
            if self._fresh:
                self._fresh = False
            else:
                self.generator.advance(command)
            frame, future = self.generator.reference(command, self.p["future_frames"], self.stride)
            if not all(frame_is_finite(f) for f in [frame] + [f for _, f in future]):
                raise NonFiniteOutput("non-finite reference frame")
            return frame, future, MotionReference.SOURCE_CMG, True
        except NonFiniteOutput as exc:  # never publish NaN: an invalid hold frame, then start again from standing
            self.get_logger().error(f"{exc}: publishing an invalid hold frame and restarting from standing",
                                    throttle_duration_sec=1.0)
            hold = self.generator.standing()
            self.generator.reset()
            self.filter.stop()
            self.command = np.zeros(3)
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
                               f"command {np.round(self.command, 3).tolist()}")
        self._tick_times, self._latencies, self._stats_since = [now], [], now


def _summary(value, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "..."


def usage() -> str:
    """The --help text."""
    return _usage(__doc__, "ros2 run cmg_node cmg_reference --ros-args -p model_file:=MODEL.onnx [-p NAME:=VALUE ...]",
                  PARAMETERS)


def main(args: list[str] | None = None) -> None:
    """Entry point."""
    run(CmgReference, "cmg_reference", usage(), (CmgModelError,), "cannot run the model", args)


if __name__ == "__main__":
    main()
