"""The ROS side shared by the MuJoCo bridge and the real-robot bridge.

:class:`BridgeNode` owns the safety state machine (``twist_core.safety``) and everything both bridges show to
ROS in the same way: the ``joint_command`` subscription (validated, then handed to the machine), the
``robot_state``/``joint_states``/``imu`` publishers, ``bridge_status`` (RELIABLE + TRANSIENT_LOCAL, on a timer
and on every mode change), the ``~/start``, ``~/go``, ``~/damp`` services and the fault log. A backend says what
time it is (:meth:`BridgeNode.now`), what the joints measure (:meth:`BridgeNode.measured_q`) and fills in its
own status fields (:meth:`BridgeNode.fill_status`).

Every access to the state machine goes through ``self.lock`` (the real-robot bridge also uses the machine from
its 500 Hz command thread and its DDS listener).
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np
import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.parameter import Parameter
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, JointState
from std_srvs.srv import Trigger
from twist_msgs.msg import BridgeStatus, JointCommand, RobotState

from g1_bridge import messages
from twist_core.robot import load_robot_spec
from twist_core.safety import Mode, SafetyConfig, SafetyStateMachine
from twist_node_common.entry import run
from twist_node_common.parameters import ParameterTable, declare_table
from twist_node_common.qos import CONTROL_QOS, STATUS_QOS

#: Parameters of the state machine, the same in both bridges: name -> (default, description).
SAFETY_PARAMETERS = {
    "ramp_time": (2.0, "seconds to ramp from the measured pose to the default pose"),
    "command_deadline": (0.1, "seconds without a valid JointCommand in POLICY before damping"),
    "max_tilt": (1.0, "pelvis roll/pitch bound [rad] before damping"),
    "joint_limit_margin": (0.1, "rad beyond a joint limit before damping (POLICY)"),
    "saturation_time": (0.5, "seconds of continuous torque saturation before damping (POLICY)"),
    "damping_kd": (8.0, "joint damping in DAMPING [N*m*s/rad]"),
    "hold_kp_scale": (4.0, "RAMP/HOLD stiffness = config kp times this"),
    "hold_kd_scale": (4.0, "RAMP/HOLD damping = config kd times this"),
}
#: Frames of ``odom`` and the floating-base transform, the same in both bridges.
FRAME_PARAMETERS = {
    "odom_frame": ("odom", "frame of /odom and the floating-base transform"),
    "base_frame": ("pelvis", "the robot's root link"),
}


def safety_config(p: dict[str, Any], min_height: float | None) -> SafetyConfig:
    """The state machine's configuration from the node's parameter values."""
    return SafetyConfig(min_height=min_height, **{name: p[name] for name in SAFETY_PARAMETERS})


class BridgeNode(Node):
    """The common ROS interface of a bridge; see the module docstring."""

    backend = ""

    def __init__(self, name: str, parameters: ParameterTable, overrides: dict[str, Any],
                 min_height_parameter: bool) -> None:
        """Declare ``parameters``, build the state machine and the common ROS interfaces.

        ``min_height_parameter``: the bridge measures (simulation) or estimates (robot) the pelvis height, so
        ``min_height`` is a bound.
        """
        super().__init__(name, parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
        self.params = declare_table(self, parameters)
        self.spec = load_robot_spec()
        self.lock = threading.RLock()
        self.safety = SafetyStateMachine(self.spec, safety_config(
            self.params, self.params["min_height"] if min_height_parameter else None))
        self.sequence = 0
        self.status_sequence = 0
        self.commands_received = 0
        self.commands_rejected = 0
        self.commands_clamped = 0
        self.clamp_message = ""
        self.torque_clamps = 0
        self.states_dropped = 0
        self.warning = ""
        self._last_logged_fault = None

        # timers run on the monotonic clock: a step of the system clock must not stall states or the status
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.state_pub = self.create_publisher(RobotState, "robot_state", CONTROL_QOS)
        self.joint_state_pub = self.create_publisher(JointState, "joint_states", 10)
        self.imu_pub = self.create_publisher(Imu, "imu", 10)
        self.status_pub = self.create_publisher(BridgeStatus, "bridge_status", STATUS_QOS)
        self.odom_pub = self.create_publisher(Odometry, "odom", 10)
        self.tf_pub = self.create_publisher(messages.TFMessage, "/tf", 10) if messages.TFMessage else None
        if self.tf_pub is None:
            self.get_logger().info("tf2_msgs is not installed: /tf is not published")
        self.create_subscription(JointCommand, "joint_command", self._on_command, CONTROL_QOS)
        self.create_service(Trigger, "~/start", self._on_start)
        self.create_service(Trigger, "~/go", self._on_go)
        self.create_service(Trigger, "~/damp", self._on_damp)

    # -- what a backend provides ------------------------------------------------------------------------
    def now(self) -> float:
        """The state machine's clock [s] (simulated time, or monotonic wall time on the robot)."""
        raise NotImplementedError

    def measured_q(self) -> np.ndarray | None:
        """The measured joint positions in motor order (None when unknown: start is refused)."""
        raise NotImplementedError

    def fill_status(self, msg: BridgeStatus) -> None:
        """Set the backend's fields of a BridgeStatus (clock mode, gantry, real-time factor, ...)."""

    def after_command(self, msg: JointCommand) -> None:
        """Called after each JointCommand was handed to the state machine."""

    def run(self) -> None:
        """Serve until shutdown (the simulation steps its own loop instead)."""
        rclpy.spin(self)

    def close(self, reason: str) -> None:
        """Leave the hardware or simulation safe before the node is destroyed; ``reason``: why it stops."""

    # -- operator requests (services, and the remote on the robot) ---------------------------------------
    def request(self, what: str, reason: str = "") -> tuple[bool, str]:
        """Apply ``start``, ``go`` or ``damp``; log the answer, publish the status and return it."""
        with self.lock:
            if what == "start":
                q = self.measured_q()
                ok, text = (self.safety.start(self.now(), q) if q is not None
                            else (False, "start refused: no measured joint positions yet"))
            elif what == "go":
                ok, text = self.safety.go(self.now())
            elif what == "damp":
                ok, text = self.safety.damp(reason or "damping requested by service")
            else:
                raise ValueError(f"unknown request {what!r}")
            mode = self.safety.mode.name
        self.log(ok, f"{what}: {text} (mode {mode})")
        self.publish_status()
        return ok, text

    def _on_start(self, _request, response):
        response.success, response.message = self.request("start")
        return response

    def _on_go(self, _request, response):
        response.success, response.message = self.request("go")
        return response

    def _on_damp(self, _request, response):
        response.success, response.message = self.request("damp")
        return response

    def _on_command(self, msg: JointCommand) -> None:
        self.commands_received += 1
        targets, error = messages.command_error_or_targets(self.spec, msg)
        if error is not None:
            self.commands_rejected += 1
            self.get_logger().error(f"rejected JointCommand {msg.sequence}: {error}", throttle_duration_sec=1.0)
        elif targets.clamped:
            self.commands_clamped += 1
            self.clamp_message = f"JointCommand {msg.sequence}: clamped {'; '.join(targets.clamped)}"
            self.get_logger().warning(f"{self.clamp_message} to the bounds of config/g1.yaml",
                                      throttle_duration_sec=1.0)
        with self.lock:
            self.safety.on_command(self.now(), targets, error, damp_requested=msg.mode == JointCommand.MODE_DAMP)
        self.log_fault()
        self.after_command(msg)

    # -- outputs --------------------------------------------------------------------------------------------
    def publish_state(self, stamp, state, privileged: bool) -> RobotState:
        """Publish robot_state, joint_states and imu for one snapshot (fields of twist_core.sim.SimState)."""
        msg = messages.robot_state_message(self.spec, stamp, self.sequence, self.safety.mode,
                                           self.spec.model.imu_site, state, privileged=privileged)
        self.state_pub.publish(msg)
        self.joint_state_pub.publish(messages.joint_state_message(msg))
        self.imu_pub.publish(messages.imu_message(msg))
        return msg

    def publish_odometry(self, stamp, pose, twist) -> None:
        """Publish ``odom`` (nav_msgs/Odometry) and the transform odom_frame -> base_frame on /tf (with tf2_msgs)."""
        frames = (self.params["odom_frame"], self.params["base_frame"])
        self.odom_pub.publish(messages.odometry_message(stamp, pose, twist, *frames))
        if self.tf_pub is not None:
            self.tf_pub.publish(messages.TFMessage(transforms=[messages.base_transform(stamp, pose, *frames)]))

    def publish_status(self) -> None:
        """Publish BridgeStatus (also on every mode change)."""
        msg = BridgeStatus()
        with self.lock:
            now = self.now()
            msg.sequence = self.status_sequence
            msg.mode = int(self.safety.mode)
            msg.fault = int(self.safety.fault)
            msg.fault_message = self.safety.fault_message
            age = self.safety.command_age(now)
            self.status_sequence += 1
        msg.backend = self.backend
        msg.control_ticks = self.sequence
        msg.commands_received = self.commands_received
        msg.commands_rejected = self.commands_rejected
        msg.commands_clamped = self.commands_clamped
        msg.clamp_message = self.clamp_message
        msg.torque_clamps = self.torque_clamps
        msg.states_dropped = self.states_dropped
        msg.warning = self.warning
        msg.command_age = float(age) if np.isfinite(age) else -1.0
        msg.header.stamp = self.get_clock().now().to_msg()
        self.fill_status(msg)
        self.status_pub.publish(msg)

    def log_fault(self) -> None:
        """Log (once) and publish the fault that put the machine in DAMPING."""
        with self.lock:
            fault, mode, text = self.safety.fault, self.safety.mode, self.safety.fault_message
            if fault == self._last_logged_fault:
                return
            self._last_logged_fault = fault
        if mode == Mode.DAMPING:
            self.get_logger().error(f"DAMPING: {fault.name}: {text}")
            self.publish_status()

    def log(self, ok: bool, text: str) -> None:
        """Log ``text`` as info when ``ok``, else as a warning."""
        if ok:  # two lines: rclpy refuses two severities from one call site
            self.get_logger().info(text)
        else:
            self.get_logger().warning(text)


def command_line(executable: str) -> str:
    """The usage line of a bridge executable for its --help text."""
    return f"ros2 run g1_bridge {executable} [--ros-args -p NAME:=VALUE ...]"


def run_bridge(name: str, usage: Callable[[], str], factory: Callable[[], BridgeNode],
               args: list[str] | None = None) -> None:
    """Entry point of a bridge executable: ``twist_node_common.entry.run`` serving with :meth:`BridgeNode.run`.

    Every start-up error exits with code 2 and one line ``<name>: cannot start: ...``; a later one exits 1 with
    ``<name>: failed: ...`` and its traceback (an exception raised after a signal has shut the context down counts
    as the signal). Whatever ends the run, the node is closed (``close(reason)``: the robot is damped, the
    simulation's video finished) before ROS shuts down.
    """
    run(factory, name, usage(), (Exception,), args=args, serve=lambda node: node.run(),
        close=lambda node, ending: node.close(ending))
