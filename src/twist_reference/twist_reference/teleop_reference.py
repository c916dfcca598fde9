"""ROS 2 node `teleop_reference`: a live stream of retargeted poses becomes a 50 Hz twist_msgs/MotionReference.

Input (relative names, remap them): ``teleop/joint_states`` (sensor_msgs/JointState: ``name`` and ``position``
[rad] of any subset of the robot's joints, the others take the default pose; ``header.stamp`` on the source's
clock) and, optionally, ``teleop/root_pose`` (geometry_msgs/PoseStamped: the pelvis pose [m] in the source's
world, z up, z the height above the floor). Any rate from 20 to 120 Hz, jittery; QoS BEST_EFFORT (matches
reliable and best-effort publishers), KEEP_LAST 20. The clocks need not agree: the offset is estimated from stamps
and arrivals (``twist_reference.teleop_stream``).

Every tick the stream is played ``playout_delay`` behind its newest sample (interpolated; extrapolated for at most
``max_extrapolation`` past it, then held), blended to standing after ``hold_timeout`` of silence (over
``silence_blend``) and back into the stream when it returns (``engage_blend``), the root aligned to the robot's
position and heading when the stream (re)engages, then mixed by ``mode`` and limited (``twist_reference.teleop_mixer``):

* ``whole_body``: joints and root from the stream;
* ``upper_body``: waist and arms (``joint_groups.upper_body`` of config/g1.yaml) from the stream, legs and root
  from the CMG following ``cmd_vel`` (needs ``model_file``);
* ``cmg_only``: the CMG alone (needs ``model_file``).

Switch at runtime with ``ros2 param set /teleop_reference mode upper_body``: the reference blends over
``mode_blend``; an unknown mode, or a CMG mode without a model, is refused with the reason. Rejected samples
(unstamped, wrong sizes, duplicated or unknown joint names, NaN, a non-unit quaternion, out of order, stale) are
counted and never played; ``/diagnostics`` (diagnostic_msgs/DiagnosticArray, every ``diagnostics_period``) has the
stream's state, the counters, the clock offset and the sample latency.

Publishes ``motion_reference`` (RELIABLE, KEEP_LAST 1; source SOURCE_TELEOP, SOURCE_CMG in cmg_only or while
upper_body has no stream, SOURCE_HOLD while standing), ``reference/joint_states`` and, with tf2_msgs, the
transform ``<frame_id> -> reference/<root>``. Services: ``~/pause`` (true: stop following the stream and stand,
false: follow again) and ``~/restart`` (stand, align again).
"""

from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, Twist
from rcl_interfaces.msg import SetParametersResult
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Header
from twist_msgs.msg import MotionReference

from twist_reference.cmg_generator import NonFiniteOutput
from twist_reference.cmg_reference import log_command
from twist_reference.cmg_source import CMG_PARAMETERS, CmgSource
from twist_reference.node_common import COMMON_PARAMETERS, ReferenceNode, frame_is_finite
from twist_reference.teleop_mixer import MixerSettings, Mode, TeleopMixer
from twist_reference.teleop_stream import REASONS, StreamBuffer, StreamSample, StreamSettings, StreamState
from twist_core.cmg_runtime import CmgModelError
from twist_core.playback import Phase, standing_frame
from twist_core.robot import RobotSpecError
from twist_node_common.entry import run
from twist_node_common.parameters import SetupError, usage as _usage
from twist_node_common.qos import CMD_VEL_QOS

STREAM_QOS = QoSProfile(depth=20, reliability=ReliabilityPolicy.BEST_EFFORT)
MODES = tuple(mode.value for mode in Mode)

TELEOP_PARAMETERS = {
    "mode": ("whole_body", f"where joints and root come from: {', '.join(MODES)} (settable at runtime)"),
    "playout_delay": (0.05, "play the stream this many seconds behind its newest sample"),
    "max_extrapolation": (0.1, "extrapolate at most this many seconds past the newest sample, then hold"),
    "hold_timeout": (0.5, "seconds past the newest sample after which the stream is silent (blend to standing)"),
    "max_latency": (0.5, "a sample arriving this many seconds later than the fastest recent one is stale"),
    "offset_window": (10.0, "seconds of arrivals over which the clock offset (minimum of arrival - stamp) is taken"),
    "engage_blend": (1.0, "seconds to blend from standing into the stream when it (re)appears"),
    "silence_blend": (1.0, "seconds to blend from the stream to standing after silence"),
    "mode_blend": (1.0, "seconds to blend between modes"),
    "joint_speed_scale": (0.5, "each reference joint moves at most this fraction of its velocity limit "
                               "(config/g1.yaml)"),
    "max_root_speed": (2.0, "the reference root moves at most this fast [m/s]"),
    "max_root_turn_rate": (4.0, "the reference root turns at most this fast [rad/s]"),
    "diagnostics_period": (1.0, "seconds between /diagnostics messages"),
}
PARAMETERS = {
    **TELEOP_PARAMETERS,
    "rate": (50.0, "publication rate [Hz] (with model_file: the model's fps)"),
    **CMG_PARAMETERS,
    **COMMON_PARAMETERS,
}
PARAMETERS["model_file"] = ("", "exported CMG (.onnx) for upper_body and cmg_only ('' : whole_body only)")


def stamp_seconds(stamp) -> float:
    """builtin_interfaces/Time in seconds."""
    return stamp.sec + 1e-9 * stamp.nanosec


class TeleopReference(ReferenceNode):
    """The teleoperation reference publisher; see the module docstring."""

    def __init__(self, **overrides) -> None:
        """Read and check the parameters, load the CMG if configured, subscribe to the stream."""
        super().__init__("teleop_reference", PARAMETERS, overrides)
        p = self.p
        if p["future_frames"] > 0:
            raise SetupError("a live stream has no future: future_frames must be 0")
        try:
            stream = StreamSettings(*(float(p[k]) for k in ("playout_delay", "max_extrapolation", "hold_timeout",
                                                            "max_latency", "offset_window")))
            mixing = MixerSettings(*(float(p[k]) for k in ("engage_blend", "silence_blend", "mode_blend",
                                                           "joint_speed_scale", "max_root_speed",
                                                           "max_root_turn_rate")))
        except ValueError as exc:
            raise SetupError(str(exc)) from None
        if not p["diagnostics_period"] > 0:
            raise SetupError(f"diagnostics_period must be > 0, got {p['diagnostics_period']}")
        self.cmg = CmgSource(p, self.spec, p["rate"]) if p["model_file"] else None
        if self.cmg is not None and p["velocity_hold_gain"] > 0:
            self.enable_velocity_estimate()
        mode = self._mode(p["mode"])
        if isinstance(mode, str):
            raise SetupError(mode)
        self.buffer = StreamBuffer(self.spec, stream)
        self.mixer = TeleopMixer(self.spec, self.period, mixing, mode)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(JointState, "teleop/joint_states", self._on_joints, STREAM_QOS)
        self.create_subscription(PoseStamped, "teleop/root_pose", self._on_root, STREAM_QOS)
        if self.cmg is not None:
            self.create_subscription(Twist, "cmd_vel", self._on_cmd_vel, CMD_VEL_QOS)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(p["diagnostics_period"], self._publish_diagnostics, clock=self.tick_clock)
        self._last_rejection = ""
        self._state = StreamState.WAITING
        self.start_timer()
        self.get_logger().info(
            f"mode {mode.value}; stream on {self.resolve_topic_name('teleop/joint_states')} (+ "
            f"{self.resolve_topic_name('teleop/root_pose')}), playout delay {stream.playout_delay} s"
            + ("" if self.cmg is None else f"; CMG {self.cmg.runtime.path} on cmd_vel"))

    def _mode(self, value: str) -> Mode | str:
        """The mode named ``value``, or why it cannot be used."""
        if value not in MODES:
            return f"mode must be one of {', '.join(MODES)}, not {value!r}"
        mode = Mode(value)
        if mode.uses_cmg and self.cmg is None:
            return f"mode {value} needs the CMG: set model_file"
        return mode

    # -- input -------------------------------------------------------------------------------------------
    def _on_joints(self, msg: JointState) -> None:
        self._count(self.buffer.offer_joints(stamp_seconds(msg.header.stamp), msg.name, msg.position,
                                             self.safety_now()), "joint")

    def _on_root(self, msg: PoseStamped) -> None:
        p, q = msg.pose.position, msg.pose.orientation
        self._count(self.buffer.offer_root(stamp_seconds(msg.header.stamp), [p.x, p.y, p.z], [q.w, q.x, q.y, q.z],
                                           self.safety_now()), "root")

    def _count(self, reason: str | None, kind: str) -> None:
        if reason is not None:
            self._last_rejection = f"{kind} sample rejected: {reason}"
            self.get_logger().warning(self._last_rejection, throttle_duration_sec=1.0)

    def _on_cmd_vel(self, msg: Twist) -> None:
        log_command(self.get_logger(), self.cmg.receive(msg.linear.x, msg.linear.y, msg.angular.z, self.safety_now()))

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        for parameter in parameters:
            if parameter.name != "mode":
                if parameter.name in TELEOP_PARAMETERS or parameter.name in CMG_PARAMETERS:
                    return SetParametersResult(successful=False, reason=f"{parameter.name} is read at start only")
                continue
            mode = self._mode(parameter.value)
            if isinstance(mode, str):
                return SetParametersResult(successful=False, reason=mode)
            if self.mixer.mode == Mode.WHOLE_BODY and mode != Mode.WHOLE_BODY:
                self.cmg.align(*self.mixer.root_pose)  # the CMG takes the root over from where it is
            self.mixer.set_mode(mode)
            self.get_logger().info(f"mode {mode.value} (blending over {self.mixer.settings.mode_blend} s)")
        return SetParametersResult(successful=True)

    # -- ReferenceNode -----------------------------------------------------------------------------------
    def on_start(self, pose) -> None:
        """Stand where the robot is (the origin without its pose); the CMG starts there too."""
        xy, heading = pose if pose is not None else (np.zeros(2), 0.0)
        self.mixer.place(xy, heading)
        if self.cmg is not None:
            self.cmg.align(xy, heading)

    def on_pause(self, paused: bool) -> None:
        """Paused: the stream is ignored (the reference blends to standing); the CMG command stops."""
        if self.cmg is not None:
            self.cmg.stop()

    def on_restart(self) -> str:
        """Stand again and align to the robot."""
        if self.cmg is not None:
            self.cmg.reset()
        return "restarting: standing, align again"

    def produce(self):
        """The stream (or standing), the CMG and the mode mixed into this tick's frame."""
        now = self.safety_now()
        sample = self.buffer.sample(now)
        self._state = sample.state
        if self.paused:
            sample = StreamSample(StreamState.WAITING, None, None, np.inf, sample.segment)
        cmg = None
        if self.cmg is not None and self.mixer.uses_cmg:  # whole_body: the CMG idles (aligned again on a switch)
            try:
                cmg = self.cmg.still() if self.paused else \
                    self.cmg.reference(now, self.robot_heading(), self.period, velocity=self.robot_velocity())[0]
                if not frame_is_finite(cmg):
                    raise NonFiniteOutput("non-finite CMG frame")
            except NonFiniteOutput as exc:
                self.get_logger().error(f"{exc}: the CMG restarts from standing", throttle_duration_sec=1.0)
                cmg = self.cmg.fault()
        frame = self.mixer.step(sample, cmg, self.robot_planar_pose())
        if not frame_is_finite(frame):  # never publish NaN: stand where the reference was, flagged invalid
            self.get_logger().error("non-finite reference frame: publishing an invalid standing frame",
                                    throttle_duration_sec=1.0)
            xy, heading = self.mixer.root_pose
            self.mixer.place(xy, heading)
            return standing_frame(self.spec, xy, heading), [], MotionReference.SOURCE_HOLD, False
        return frame, [], self._source(frame, sample), True

    def _source(self, frame, sample: StreamSample) -> int:
        if self.mixer.mode == Mode.CMG_ONLY or (self.mixer.mode == Mode.UPPER_BODY and not sample.state.active):
            return MotionReference.SOURCE_CMG
        return MotionReference.SOURCE_HOLD if frame.phase == Phase.HOLD else MotionReference.SOURCE_TELEOP

    # -- diagnostics -------------------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        buffer = self.buffer
        latencies = np.array(buffer.latencies) if buffer.latencies else np.zeros(1)
        offset = buffer.offset.value
        values = {
            "state": self._state.value, "mode": self.mixer.mode.value, "segment": buffer.segment,
            "accepted_joint_samples": buffer.accepted["joints"], "accepted_root_samples": buffer.accepted["root"],
            **{f"rejected_{reason}": buffer.rejected[reason] for reason in REASONS},
            "rejected_total": sum(buffer.rejected.values()),
            "clock_offset_s": "unknown" if offset is None else f"{offset:.6f}",
            "latency_p50_s": f"{np.percentile(latencies, 50):.4f}",
            "latency_p99_s": f"{np.percentile(latencies, 99):.4f}",
            "last_rejection": self._last_rejection,
        }
        if self.cmg is not None:
            values["cmg_velocity_correction"] = np.round(self.cmg.velocity_hold.correction, 3).tolist()
        level = DiagnosticStatus.OK if self._state in (StreamState.LIVE, StreamState.EXTRAPOLATING) else \
            DiagnosticStatus.WARN
        status = DiagnosticStatus(level=level, name=f"{self.get_name()}: stream", hardware_id="teleop",
                                  message=f"{self._state.value}, mode {self.mixer.mode.value}",
                                  values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
        self.diagnostics_pub.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()),
                                                     status=[status]))


def usage() -> str:
    """The --help text."""
    return _usage(__doc__, "ros2 run twist_reference teleop_reference --ros-args [-p model_file:=CMG.onnx] "
                           "[-p mode:=whole_body|upper_body|cmg_only] [-p NAME:=VALUE ...]", PARAMETERS)


def main(args: list[str] | None = None) -> None:
    """Entry point."""
    run(TeleopReference, "teleop_reference", usage(), (CmgModelError, RobotSpecError),
        reason="cannot start teleoperation", args=args)


if __name__ == "__main__":
    main()
