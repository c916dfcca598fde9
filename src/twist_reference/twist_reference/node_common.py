"""What the reference publishers (mocap_reference, cmg_reference) share.

:class:`ReferenceNode` is a ``rclpy`` node with the common plumbing: parameters declared from a table with
descriptions, the robot spec, the publishers of ``motion_reference`` (RELIABLE, KEEP_LAST 1),
``reference/joint_states`` and the transform ``<frame_id> -> reference/<root>`` on ``/tf`` (when tf2_msgs is
installed), the ``robot_state`` subscription for aligning the start to the robot (and, for the velocity hold of the
CMG nodes, the robot's planar velocity from leg odometry: :meth:`ReferenceNode.enable_velocity_estimate`), the start
gate (``wait_for_subscribers``, ``align_to_robot``/``align_timeout``), the ``~/pause`` (std_srvs/SetBool) and
``~/restart`` (std_srvs/Trigger) services, and the timer. Ages and deadlines use :meth:`ReferenceNode.safety_now`
and the timer :attr:`ReferenceNode.tick_clock`: simulated time with ``use_sim_time``, else the monotonic clock, so a
step of the system clock neither keeps an old command alive nor stalls the ticks. In real time the launch graph
makes the node tick when a ``robot_state`` arrives (``tick_on_state``, :class:`StateTicks`) and the policy wait a
few milliseconds for that reference (its ``reference_wait``), so each command uses a reference computed for its own
state instead of one up to a control period old; without regular states the timer ticks on its own. A subclass
supplies the frames (:meth:`produce`) and reacts to start, pause and restart. The entry point, parameter tables,
``--help`` text and QoS profiles are every node's (``twist_node_common``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool, Trigger
from twist_msgs.msg import BridgeStatus, MotionReference, RobotState

from twist_reference import reference_messages as rm
from twist_core import rotations
from twist_core.odometry import HeadingVelocity, LegOdometry
from twist_core.playback import ReferenceFrame
from twist_core.robot import load_robot_spec
from twist_node_common.parameters import ParameterTable, SetupError, declare_table
from twist_node_common.qos import CONTROL_QOS

try:  # tf2_msgs is part of every ROS 2 install but not of the PyPI wheels
    from tf2_msgs.msg import TFMessage
except ImportError:  # pragma: no cover - depends on the installation
    TFMessage = None

#: Parameters every reference publisher has: name -> (default, description).
COMMON_PARAMETERS: ParameterTable = {
    "future_frames": (0, "number of future frames in each message (privileged/teacher use)"),
    "future_step": (0.1, "seconds between future frames"),
    "align_to_robot": (True, "start at the robot's position and heading (from robot_state)"),
    "align_timeout": (2.0, "seconds to wait for robot_state before starting at the origin"),
    "wait_for_subscribers": (0, "start only once motion_reference has this many subscribers"),
    "start_paused": (False, "start paused (resume with ~/pause false)"),
    "frame_id": ("odom", "world frame of the reference (the bridge's odom frame)"),
    "tick_on_state": (False, "real time: tick when each robot_state arrives (states at the node's rate), the "
                             "timer only when they stop (the launch graph sets it, with the policy's "
                             "reference_wait); false: the timer alone"),
}


class StateTicks:
    """Which robot_state arrivals make a tick: those at least 0.75 ``period`` after the previous state.

    States faster than the node's rate (a bridge at 500 Hz) or a burst after a stall tick at most once; after a
    state's tick the timer waits :attr:`timer_delay` (1.5 periods), so it ticks only when the states stop.
    """

    def __init__(self, period: float, enabled: bool = True) -> None:
        """Ticks every ``period`` s; ``enabled`` False: no state ever ticks."""
        self.period = period
        self.enabled = enabled
        self.timer_delay = 1.5 * period
        self._last: float | None = None

    def on_state(self, now: float) -> bool:
        """Whether the state arriving at ``now`` ticks."""
        previous, self._last = self._last, now
        return self.enabled and (previous is None or now - previous >= 0.75 * self.period)


def robot_pose(msg: RobotState) -> tuple[np.ndarray, float]:
    """(x, y) and heading of the robot from a RobotState: the privileged base pose, else IMU heading at the origin."""
    if msg.privileged_valid:
        pose = msg.base_pose
        q = pose.orientation
        return np.array([pose.position.x, pose.position.y]), float(rotations.yaw([q.w, q.x, q.y, q.z]))
    q = msg.imu_orientation  # the real robot: heading from the IMU, position unknown (origin of the odom frame)
    return np.zeros(2), float(rotations.yaw([q.w, q.x, q.y, q.z]))


def frame_is_finite(frame: ReferenceFrame) -> bool:
    """Whether every number of ``frame`` is finite."""
    return all(np.all(np.isfinite(getattr(frame, f))) for f in
               ("root_pos", "root_quat", "root_lin_vel_local", "root_ang_vel_local", "joint_pos", "joint_vel",
                "key_body_pos_local"))


class ReferenceNode(Node):
    """Common plumbing of the reference publishers; see the module docstring.

    Subclasses call ``super().__init__``, set themselves up, then :meth:`start_timer`; they implement
    :meth:`produce` and may override :meth:`on_start`, :meth:`on_pause` and :meth:`on_restart`.
    """

    def __init__(self, name: str, parameters: ParameterTable, overrides: dict[str, Any]) -> None:
        """Declare ``parameters`` (read into ``self.p``), load the robot spec, create publishers and services."""
        super().__init__(name, parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
        self.p: dict[str, Any] = declare_table(self, parameters)
        if not self.p["rate"] > 0:
            raise SetupError(f"rate must be > 0, got {self.p['rate']}")
        if self.p["future_frames"] < 0 or not self.p["future_step"] > 0:
            raise SetupError("future_frames must be >= 0 and future_step > 0")
        self.spec = load_robot_spec()
        self.period = 1.0 / self.p["rate"]
        sim_time = bool(self.get_parameter("use_sim_time").value)
        self.tick_clock = self.get_clock() if sim_time else Clock(clock_type=ClockType.STEADY_TIME)
        # lockstep keeps its own order (the policy waits for the reference of each simulated tick)
        self.state_ticks = StateTicks(self.period, bool(self.p["tick_on_state"]) and not sim_time)
        self._tick_timer = None
        self._timer_pushed = False
        self.sequence = 0
        self.paused = bool(self.p["start_paused"])
        self.started = False
        self._waited = 0.0
        self._robot_pose: tuple[np.ndarray, float] | None = None
        self._odometry: LegOdometry | None = None
        self._heading_velocity = HeadingVelocity()
        self._robot_velocity: np.ndarray | None = None
        self._velocity_ticks = 0
        self._ticks_since_state = 0
        self.reference_pub = self.create_publisher(MotionReference, "motion_reference", CONTROL_QOS)
        self.joint_state_pub = self.create_publisher(JointState, "reference/joint_states", 10)
        self.tf_pub = self.create_publisher(TFMessage, "/tf", 10) if TFMessage is not None else None
        self.create_subscription(RobotState, "robot_state", self._on_robot_state, CONTROL_QOS)
        self.create_service(SetBool, "~/pause", self._on_pause)
        self.create_service(Trigger, "~/restart", self._on_restart)

    def enable_velocity_estimate(self) -> None:
        """Estimate the robot's planar velocity from every robot_state from then on (:meth:`robot_velocity`).

        Leg odometry (``twist_core.odometry.LegOdometry``) on the measured joints and the IMU orientation, what
        the real robot has too (never the simulation's privileged velocity), only while the bridge is in
        MODE_POLICY; each displacement turned into the heading frame (``twist_core.odometry.HeadingVelocity``).
        """
        self._odometry = LegOdometry(self.spec)

    def start_timer(self) -> None:
        """Start ticking at ``rate`` on :attr:`tick_clock` (call at the end of the subclass's set-up)."""
        self._tick_timer = self.create_timer(self.period, self._on_tick_timer, clock=self.tick_clock)

    def safety_now(self) -> float:
        """Seconds on the clock of ages and deadlines: simulated time with use_sim_time, else monotonic."""
        return self.tick_clock.now().nanoseconds * 1e-9

    # -- to implement ---------------------------------------------------------------------------------
    def produce(self) -> tuple[ReferenceFrame, Sequence[tuple[float, ReferenceFrame]], int, bool]:
        """This tick's (current frame, future (offset, frame) pairs, MotionReference source, valid)."""
        raise NotImplementedError

    def on_start(self, pose: tuple[np.ndarray, float] | None) -> None:
        """Called when the start gate opens, with the robot's (xy, heading), or None (no alignment)."""

    def on_pause(self, paused: bool) -> None:
        """Called when ~/pause sets ``paused``."""

    def on_restart(self) -> str:
        """Called on ~/restart before the start gate closes again; returns the service's message."""
        return "restarting"

    # -- plumbing -------------------------------------------------------------------------------------
    def _on_robot_state(self, msg: RobotState) -> None:
        self._robot_pose = robot_pose(msg)
        self._ticks_since_state = 0
        if self._odometry is not None:
            self._estimate_velocity(msg)
        if self._tick_timer is not None and self.state_ticks.on_state(self.safety_now()):
            self._tick_timer.timer_period_ns = int(round(self.state_ticks.timer_delay * 1e9))
            self._tick_timer.reset()  # the timer only if no state comes
            self._timer_pushed = True
            self.tick()

    def _on_tick_timer(self) -> None:
        if self._timer_pushed:  # the states stopped: every period from now on
            self._tick_timer.timer_period_ns = int(round(self.period * 1e9))
            self._tick_timer.reset()
            self._timer_pushed = False
        self.tick()

    def robot_planar_pose(self, max_ticks: int = 10) -> tuple[np.ndarray, float] | None:
        """The robot's (x, y) and heading from the latest robot_state; None without one in ``max_ticks`` ticks."""
        if self._robot_pose is None or self._ticks_since_state > max_ticks:
            return None
        return self._robot_pose

    def _estimate_velocity(self, msg: RobotState) -> None:
        """Update the velocity estimate from ``msg``; a state it cannot use leaves the estimate to age."""
        if msg.mode != BridgeStatus.MODE_POLICY:  # held, damped or limp: nothing to walk with
            self._robot_velocity = None
            self._heading_velocity.reset()
            return
        q = msg.imu_orientation
        try:
            if tuple(msg.joint_names) != self.spec.joint_names:
                raise ValueError("robot_state's joint_names are not config/g1.yaml's motor order")
            estimate = self._odometry.update(msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec,
                                             np.asarray(msg.position), np.array([q.w, q.x, q.y, q.z]))
        except ValueError as exc:
            self.get_logger().warning(f"no velocity estimate (the velocity hold fades): {exc}",
                                      throttle_duration_sec=5.0)
            return
        velocity = self._heading_velocity.update(estimate)
        if velocity is not None:
            self._robot_velocity, self._velocity_ticks = velocity, 0

    def robot_velocity(self, max_ticks: int = 10) -> np.ndarray | None:
        """The robot's (vx, vy) in its heading frame from robot_state, None without a recent estimate.

        Estimated after :meth:`enable_velocity_estimate`; None when the latest is older than ``max_ticks`` ticks
        (no state, states it cannot use, stamps that do not advance, a tilted pelvis) or the bridge is not in
        MODE_POLICY.
        """
        if self._robot_velocity is None or self._velocity_ticks > max_ticks:
            return None
        return self._robot_velocity.copy()

    def robot_heading(self, max_ticks: int = 10) -> float | None:
        """The robot's heading from the latest robot_state, None without one in the last ``max_ticks`` ticks."""
        pose = self.robot_planar_pose(max_ticks)
        return None if pose is None else pose[1]

    def _ready(self) -> bool:
        """Whether generation may start (aligned, or timed out waiting; enough subscribers)."""
        if self.reference_pub.get_subscription_count() < self.p["wait_for_subscribers"]:
            return False
        if not self.p["align_to_robot"]:
            self.on_start(None)
            return True
        if self._robot_pose is None and self._waited < self.p["align_timeout"]:
            return False
        if self._robot_pose is None:
            self.get_logger().warning(f"no robot_state within {self.p['align_timeout']} s: starting at the origin")
        self.on_start(self._robot_pose)
        return True

    def tick(self) -> None:
        """Publish this tick's reference once the start gate is open."""
        self._ticks_since_state += 1
        self._velocity_ticks += 1
        if not self.started:
            self._waited += self.period
            if not self._ready():
                return
            self.started = True
        current, future, source, valid = self.produce()
        self.publish_reference(current, future, source, valid)

    def publish_reference(self, current: ReferenceFrame, future: Sequence[tuple[float, ReferenceFrame]],
                          source: int, valid: bool) -> MotionReference:
        """Publish the MotionReference, its joint states and the /tf transform; advance the sequence number."""
        msg = rm.reference_message(self.spec, self.get_clock().now().to_msg(), self.sequence, source, valid,
                                   self.p["frame_id"], current, future)
        self.reference_pub.publish(msg)
        self.joint_state_pub.publish(rm.reference_joint_state(msg))
        if self.tf_pub is not None:
            self.tf_pub.publish(TFMessage(transforms=[
                rm.reference_transform(msg, f"reference/{self.spec.model.root_body}")]))
        self.sequence += 1
        return msg

    def _on_pause(self, request, response):
        self.paused = request.data
        self.on_pause(self.paused)
        response.success = True
        response.message = "paused" if self.paused else "resumed"
        self.get_logger().info(response.message)
        return response

    def _on_restart(self, _request, response):
        response.message = self.on_restart()
        self.started = False
        self._waited = 0.0
        response.success = True
        self.get_logger().info(response.message)
        return response
