"""ROS 2 node `twist_policy`: the student policy between the reference publisher and the G1 bridge.

Loads the exported policy (ONNX, ``twist_core.policy_runtime``; a policy whose joint order, default pose, gains or
observation layout differ from config/g1.yaml and twist_core is refused: exit code 2 with the differences). Runs
once per ``robot_state`` message (the bridge's 50 Hz tick; in lockstep the bridge waits for the answer):

- the state is checked (29 joint names in motor order, sizes, finite numbers, unit quaternion) and its age
  (node clock minus header stamp) compared with ``state_timeout``: a bad or stale state gets no command (error
  log, counted in the diagnostics; the bridge's command watchdog damps if it lasts);
- bridge mode POLICY: the observation is built by ``twist_core.policy_io`` (frame + history, the history started
  with copies of the first frame at every activation, the last action zero), the policy runs, ``PolicyIO.targets``
  gives the joint targets, published as ``joint_command`` with config/g1.yaml's kp/kd, ``state_sequence`` = the
  state's sequence and mode MODE_POLICY (MODE_HOLD while the reference is stale: held, ramping or standing;
  MODE_DAMP if the policy returns NaN/Inf);
- any other bridge mode: a MODE_HOLD command holding the default pose (the bridge does not apply it there, but
  ``go`` needs a recent valid command and lockstep needs an answer to advance).

The reference (``motion_reference``) is checked like the state; a bad or ``valid = false`` frame is ignored and
counts as missing. Older than ``reference_timeout`` it ends in a controlled stop when ``stop_model`` names a CMG
(``twist_policy_node.controlled_stop``: the CMG walks on from the last reference, decelerating at
``stop_linear_decel``/``stop_yaw_decel`` to a stand); without one it is held for ``hold_time``, then ramped to
standing (the default pose) over ``ramp_time``, which only a slow robot survives (``reference_keeper``). In lockstep
the reference publisher is not part of the bridge's handshake and may fall behind a simulation running faster than
real time: ``reference_wait`` > 0 makes the node wait (in POLICY, at most that many wall seconds) for the reference
stamped at the state's time before answering, which puts the reference into the lockstep too; it waits only while
the reference is live (not yet ``reference_timeout`` behind the state), so a dead reference publisher costs a few
waits, not one per tick. In real time the launch graph has the reference node tick on each state and sets
``reference_wait`` to a few milliseconds, so each command tracks the reference computed for its state; every
command names the reference it tracks (``reference_sequence``, -1 for none). ``/diagnostics``
(diagnostic_msgs/DiagnosticArray, ``diagnostics_rate``, wall clock) reports inference and state->command latency
p50/p99, input ages, rates, the reference state and the counts of rejected inputs.

QoS as the publishers': ``robot_state``, ``motion_reference`` and ``joint_command`` RELIABLE, KEEP_LAST 1;
``bridge_status`` RELIABLE + TRANSIENT_LOCAL. With a lockstep bridge set ``use_sim_time:=true`` (it publishes
/clock; its state stamps are simulated time).

Reference ages: on wall time a reference counts from when it was received, on the monotonic clock (publishers'
clocks may differ, and a step of the system clock must neither keep a dead reference "live" nor age a live one);
on simulated time every stamp comes from the bridge's one clock, so a reference counts from its stamp and a state
is answered at its stamp (the node's own /clock can lag behind the messages it handles when it is starved of CPU;
measured on that lagging clock, references that arrived on time would look stale). A state's age compares its stamp
with the node's ROS clock (both the system clock on wall time): a clock step makes the states around it look stale,
which gets no command (fail-safe).
"""

from __future__ import annotations

import collections
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.parameter import Parameter
from twist_msgs.msg import BridgeStatus, JointCommand, MotionReference, RobotState

from twist_core.cmg_runtime import CmgRuntime
from twist_core.model import standing_height
from twist_core.policy_io import OBSERVATION_SIZE
from twist_core.policy_runtime import PolicyModelError, PolicyRuntime
from twist_core.robot import RobotSpecError, load_robot_spec
from twist_core.safety import Mode
from twist_node_common.entry import run
from twist_node_common.parameters import SetupError, declare_table, usage as _usage
from twist_node_common.qos import CONTROL_QOS, STATUS_QOS
from twist_policy_node.controlled_stop import ControlledStop
from twist_policy_node.controller import Decision, PolicyController
from twist_policy_node.inputs import InputError, RobotInput, reference_input, robot_input, stamp_seconds
from twist_policy_node.reference_keeper import ReferenceKeeper

FUTURE_TOLERANCE = 1.0  # s a state stamp may be ahead of the node clock (sim time before the first /clock)
LATENCY_WINDOW = 500  # ticks (10 s at 50 Hz) behind the latency percentiles
LIVE_REFERENCE = ("fresh", "blending")  # keeper states that track the live reference (MODE_POLICY)
COMMAND_MODES = {"policy": JointCommand.MODE_POLICY, "hold": JointCommand.MODE_HOLD, "damp": JointCommand.MODE_DAMP}

PARAMETERS = {
    "policy_file": ("", "exported student policy (.onnx) (required)"),
    "reference_timeout": (0.1, "seconds after which the motion reference is stale"),
    "stop_model": ("", "exported CMG (.onnx) for the controlled stop when the reference is lost (empty: hold, "
                       "then ramp to standing, safe only when slow)"),
    "stop_linear_decel": (1.0, "controlled stop: deceleration of the commanded (vx, vy) [m/s^2]"),
    "stop_yaw_decel": (2.0, "controlled stop: deceleration of the commanded yaw rate [rad/s^2]"),
    "hold_time": (0.5, "without stop_model: seconds a stale reference is held before ramping to standing"),
    "ramp_time": (1.0, "seconds of the ramp to standing (and of the blend back to a returning reference)"),
    "state_timeout": (0.1, "a robot_state older than this (node clock - stamp) gets no command"),
    "threads": (1, "ONNX Runtime intra-op threads"),
    "diagnostics_rate": (1.0, "/diagnostics publications per second (wall clock)"),
    "reference_wait": (0.0, "wall seconds to wait, in POLICY, for a reference stamped at or after the state's "
                            "time before answering with the latest one (0: never wait)"),
}


class PolicyNode(Node):
    """The student policy node; see the module docstring."""

    def __init__(self, **overrides) -> None:
        """Load and check the policy, then subscribe (raises PolicyModelError/SetupError when it cannot)."""
        super().__init__("twist_policy", parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
        self.p = p = declare_table(self, PARAMETERS)
        if not p["policy_file"]:
            raise SetupError("parameter policy_file is empty (an exported policy, e.g. models/student/policy.onnx)")
        for key in ("reference_timeout", "state_timeout", "diagnostics_rate"):
            if not p[key] > 0:
                raise SetupError(f"{key} must be > 0, got {p[key]}")
        if min(p["hold_time"], p["ramp_time"], p["threads"], p["reference_wait"]) < 0:
            raise SetupError("hold_time, ramp_time, threads and reference_wait must be >= 0")
        self.spec = spec = load_robot_spec()
        self.runtime = PolicyRuntime(p["policy_file"], spec, threads=p["threads"])
        height = standing_height(spec, spec.default_pose)
        stop = None
        if p["stop_model"]:
            try:
                stop = ControlledStop(CmgRuntime(p["stop_model"], spec), p["stop_linear_decel"], p["stop_yaw_decel"])
            except ValueError as exc:  # CmgModelError (a bad model) or bad decelerations
                raise SetupError(f"stop_model: {exc}") from None
        self.keeper = ReferenceKeeper(spec.default_pose, height, p["reference_timeout"], p["hold_time"],
                                      p["ramp_time"], stop)
        self.controller = PolicyController(self.runtime, self.keeper)
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.sequence = 0
        self.counts = collections.Counter()
        self._period_counts = collections.Counter()
        self._period_start = time.monotonic()
        self.rates: dict[str, float] = {}
        self.inference_ms: collections.deque = collections.deque(maxlen=LATENCY_WINDOW)
        self.loop_ms: collections.deque = collections.deque(maxlen=LATENCY_WINDOW)
        self.last_state_wall: float | None = None
        self.last_state_age = float("nan")
        self.bridge_mode: int | None = None
        self.bridge_status: BridgeStatus | None = None
        self.reference_state = "none"
        self.reference_sequence = -1  # of the latest valid reference received
        self.reference_stamp = -np.inf
        self._pending: tuple[RobotInput, float] | None = None  # a state waiting for its reference (reference_wait)
        self._pending_timer = None
        self.last_error = ""
        self._previous_state: tuple[int, float] | None = None  # (sequence, stamp), for the tick period check
        self.command_pub = self.create_publisher(JointCommand, "joint_command", CONTROL_QOS)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(RobotState, "robot_state", self._on_state, CONTROL_QOS)
        self.create_subscription(MotionReference, "motion_reference", self._on_reference, CONTROL_QOS)
        self.create_subscription(BridgeStatus, "bridge_status", self._on_status, STATUS_QOS)
        self.create_timer(1.0 / p["diagnostics_rate"], self.publish_diagnostics, clock=self.steady)
        meta = self.runtime.metadata
        self.get_logger().info(f"policy {self.runtime.path}: role {meta.get('role', '?')}, control rate "
                               f"{self.runtime.control_rate:g} Hz, git commit {meta.get('git_commit', '?')}, "
                               f"training {str(meta.get('training', '?'))[:200]}")
        fallback = (f"controlled stop with {p['stop_model']} ({p['stop_linear_decel']} m/s^2, "
                    f"{p['stop_yaw_decel']} rad/s^2)" if stop is not None else
                    f"hold {p['hold_time']} s, ramp {p['ramp_time']} s (no stop_model: safe only when slow)")
        self.get_logger().info(f"inference {self._time_inference():.2f} ms (median of 20); reference timeout "
                               f"{p['reference_timeout']} s, then {fallback}; state timeout {p['state_timeout']} s; "
                               f"standing height {height:.3f} m")

    def _time_inference(self) -> float:
        obs = np.zeros(OBSERVATION_SIZE, dtype=np.float32)
        times = []
        for _ in range(20):
            start = time.perf_counter()
            self.runtime.act(obs)
            times.append(time.perf_counter() - start)
        return float(np.median(times) * 1e3)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _steady_now(self) -> float:
        return self.steady.now().nanoseconds * 1e-9

    def _on_sim_time(self) -> bool:
        return bool(self.get_parameter("use_sim_time").value)

    # -- inputs ---------------------------------------------------------------------------------------
    def _on_status(self, msg: BridgeStatus) -> None:
        self.bridge_status = msg

    def _on_reference(self, msg: MotionReference) -> None:
        self._count("references")
        if not msg.valid:
            self._count("references_invalid_flag")
            return
        try:
            reference = reference_input(self.spec, msg)
        except InputError as exc:
            self._count("references_rejected")
            self._error(f"reference ignored: {exc}")
            return
        self.reference_stamp = stamp_seconds(msg.header.stamp)
        self.reference_sequence = int(msg.sequence)
        self.keeper.receive(reference, self.reference_stamp if self._on_sim_time() else self._steady_now())
        if self._pending is not None and self.reference_stamp >= self._pending[0].stamp - 1e-9:
            self._answer_pending()

    def _on_state(self, msg: RobotState) -> None:
        received = time.perf_counter()
        self.last_state_wall = time.monotonic()
        self._count("states")
        try:
            robot = robot_input(self.spec, msg)
        except InputError as exc:
            self._count("states_rejected")
            self._error(f"no command: {exc}")
            return
        self.bridge_mode = robot.mode
        self._check_period(robot)
        self.last_state_age = age = self._now() - robot.stamp
        if age > self.p["state_timeout"] or age < -FUTURE_TOLERANCE:
            self._count("states_stale")
            self._error(f"no command: RobotState {robot.sequence} is {age:.3f} s old (state_timeout "
                        f"{self.p['state_timeout']} s){_clock_hint(age)}")
            return
        if self._pending is not None:  # a newer state supersedes one still waiting for its reference
            self._answer_pending()
        if (self.p["reference_wait"] > 0 and robot.mode == Mode.POLICY
                and robot.stamp - self.p["reference_timeout"] <= self.reference_stamp < robot.stamp - 1e-9):
            self._pending = (robot, received)
            self._pending_timer = self.create_timer(self.p["reference_wait"], self._answer_pending,
                                                    clock=self.steady)
            return
        self._answer(robot, received)

    def _check_period(self, robot: RobotInput) -> None:
        """Warn when consecutive states are not 1/control_rate apart: the policy was trained for that rate."""
        previous, self._previous_state = self._previous_state, (robot.sequence, robot.stamp)
        if previous is None or robot.sequence != previous[0] + 1:
            return
        period = 1.0 / self.runtime.control_rate
        if abs(robot.stamp - previous[1] - period) > 0.25 * period:
            self.get_logger().warning(f"robot_state {robot.sequence} came {robot.stamp - previous[1]:.4f} s after "
                                      f"the previous one; the policy was trained at {self.runtime.control_rate:g} Hz",
                                      throttle_duration_sec=5.0)

    def _answer_pending(self) -> None:
        """Answer the state that waited for its reference (it arrived, or reference_wait passed)."""
        if self._pending_timer is not None:
            self._pending_timer.cancel()
            self.destroy_timer(self._pending_timer)
            self._pending_timer = None
        if self._pending is not None:
            pending, self._pending = self._pending, None
            if self.reference_stamp < pending[0].stamp - 1e-9:
                self._count("reference_waits_expired")
            self._answer(*pending)

    def _answer(self, robot: RobotInput, received: float) -> None:
        """Run the controller for a checked, fresh state and publish its command."""
        now = robot.stamp if self._on_sim_time() else self._steady_now()
        try:
            decision = self.controller.step(robot, now)
        except ValueError as exc:  # the policy refused the observation; nothing is sent
            self._count("policy_errors")
            self._error(f"no command: {exc}")
            return
        if decision.kind == "damp":
            self._error(f"requesting damping: {decision.reason}")
        self._publish(decision, robot.sequence)
        self.loop_ms.append((time.perf_counter() - received) * 1e3)
        if decision.inference_s is not None:
            self.inference_ms.append(decision.inference_s * 1e3)
        self._track_reference_state(decision.reference_state, now)

    def _publish(self, decision: Decision, state_sequence: int) -> None:
        n = self.spec.num_joints
        msg = JointCommand()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.sequence = self.sequence
        msg.state_sequence = state_sequence
        mode = decision.kind
        if mode == "policy" and decision.reference_state not in LIVE_REFERENCE:
            mode = "hold"  # tracking a held/ramped/standing reference (the reference is stale): say so
        msg.reference_sequence = self.reference_sequence if mode == "policy" else -1
        msg.mode = COMMAND_MODES[mode]
        msg.joint_names = list(self.spec.joint_names)
        msg.position = [float(x) for x in decision.targets]
        msg.velocity = [0.0] * n
        msg.kp = self.spec.kp.tolist()
        msg.kd = self.spec.kd.tolist()
        msg.effort = [0.0] * n
        self.command_pub.publish(msg)
        self.sequence += 1
        self._count(f"commands_{decision.kind}")

    # -- bookkeeping ----------------------------------------------------------------------------------
    def _count(self, key: str) -> None:
        self.counts[key] += 1
        self._period_counts[key] += 1

    def _error(self, text: str) -> None:
        self.last_error = text
        self.get_logger().error(text, throttle_duration_sec=1.0)

    def _track_reference_state(self, state: str, now: float) -> None:
        if state == self.reference_state:
            return
        text = f"reference {self.reference_state} -> {state}"
        if state in ("held", "ramping", "default", "stopping", "stopped") and self.controller.active:
            self.get_logger().warning(f"{text} (reference age {self.keeper.age(now):.2f} s)")
        else:
            self.get_logger().info(text)
        self.reference_state = state

    def publish_diagnostics(self) -> None:
        """Publish one DiagnosticStatus with latencies, ages, rates and the reference state."""
        wall = time.monotonic()
        span = max(wall - self._period_start, 1e-6)
        self.rates = {key: count / span for key, count in self._period_counts.items()}
        period_counts, self._period_counts, self._period_start = self._period_counts, collections.Counter(), wall
        state_wall_age = wall - self.last_state_wall if self.last_state_wall is not None else float("inf")
        reference_age = self.keeper.age(self._now() if self._on_sim_time() else self._steady_now())
        inference = np.percentile(self.inference_ms, [50, 99]) if self.inference_ms else [np.nan, np.nan]
        loop = np.percentile(self.loop_ms, [50, 99]) if self.loop_ms else [np.nan, np.nan]
        level, message = DiagnosticStatus.OK, "tracking" if self.controller.active else "idle (bridge not in POLICY)"
        if state_wall_age > self.p["state_timeout"]:
            level, message = DiagnosticStatus.ERROR, f"no robot_state for {state_wall_age:.2f} s: no commands"
        elif period_counts["states_rejected"] or period_counts["states_stale"] or period_counts["policy_errors"]:
            level, message = DiagnosticStatus.ERROR, self.last_error
        elif self.controller.active and self.reference_state != "fresh":
            level, message = DiagnosticStatus.WARN, f"reference {self.reference_state}"
        elif period_counts["references_rejected"]:
            level, message = DiagnosticStatus.WARN, self.last_error
        mode = _mode_name(self.bridge_mode)
        values = {
            "bridge_mode": mode, "active": self.controller.active, "activations": self.controller.activations,
            "reference_state": self.reference_state, "reference_age_s": reference_age,
            "state_age_s": self.last_state_age, "state_wall_age_s": state_wall_age,
            "inference_p50_ms": inference[0], "inference_p99_ms": inference[1],
            "state_to_command_p50_ms": loop[0], "state_to_command_p99_ms": loop[1],
            "state_rate_hz": self.rates.get("states", 0.0), "reference_rate_hz": self.rates.get("references", 0.0),
            "command_rate_hz": sum(v for k, v in self.rates.items() if k.startswith("commands_")),
            **{k: self.counts[k] for k in ("states", "states_rejected", "states_stale", "references",
                                           "references_rejected", "references_invalid_flag", "commands_policy",
                                           "commands_hold", "commands_damp", "policy_errors",
                                           "reference_waits_expired")},
            "stop_error": self.keeper.stop_error,
            "bridge_fault": self.bridge_status.fault_message if self.bridge_status is not None else "",
            "last_error": self.last_error,
        }
        status = DiagnosticStatus(level=level, name="twist_policy: student policy", message=message,
                                  hardware_id=str(self.runtime.path))
        status.values = [KeyValue(key=k, value=_format(v)) for k, v in values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(msg)


def _format(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)


def _mode_name(mode: int | None) -> str:
    if mode is None:
        return "unknown"
    try:
        return Mode(mode).name
    except ValueError:
        return str(mode)


def _clock_hint(age: float) -> str:
    if age > 1e6:
        return ("; the state stamps are on another clock: set use_sim_time:=true with a lockstep bridge "
                "(it stamps simulated time and publishes /clock)")
    if age < -FUTURE_TOLERANCE:
        return ("; the stamp is ahead of the node clock: with use_sim_time:=true the node waits for /clock "
                "(only a lockstep bridge publishes it)")
    return ""


def usage() -> str:
    """The --help text."""
    return _usage(__doc__, "ros2 run twist_policy_node twist_policy --ros-args -p policy_file:=POLICY.onnx "
                           "[-p use_sim_time:=true] [-p NAME:=VALUE ...]", PARAMETERS)


def main(args: list[str] | None = None) -> None:
    """Entry point (python -m twist_policy_node.policy_node, or the console script twist_policy)."""
    run(PolicyNode, "twist_policy", usage(), (PolicyModelError, RobotSpecError), args=args)


if __name__ == "__main__":
    main()
