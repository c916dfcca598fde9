"""ROS 2 node `mocap_reference`: plays a motion file as twist_msgs/MotionReference at 50 Hz.

Any supported motion file (canonical .npz, AMASS-G1 .npz, TWIST/GMR .pkl, mjlab .npz) is validated and resampled
to the node's rate at start; an invalid file stops the node with the reason. Playback (twist_core.playback):
blend-in from the default pose, the motion (looping or once, at ``speed``), blend-out back to the default pose,
then a hold reference. The first frame is aligned to the robot's position and heading from ``robot_state``.

Publishes ``motion_reference`` (RELIABLE, KEEP_LAST 1), ``reference/joint_states`` and, with tf2_msgs, the
transform ``<frame_id> -> reference/<root>`` for the ghost robot in rviz2. Services: ``~/pause``
(std_srvs/SetBool: true pauses, false resumes) and ``~/restart`` (std_srvs/Trigger: align again, blend in).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool, Trigger
from twist_msgs.msg import MotionReference, RobotState

from cmg_node import reference_messages as rm
from twist_core import rotations
from twist_core.motion import MotionError, resample
from twist_core.motion_formats import read_motion
from twist_core.playback import MotionPlayer, Phase, ReferenceFrame
from twist_core.robot import load_robot_spec

try:  # tf2_msgs is part of every ROS 2 install but not of the PyPI wheels
    from tf2_msgs.msg import TFMessage
except ImportError:  # pragma: no cover - depends on the installation
    TFMessage = None

CONTROL_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)

PARAMETERS = {
    "motion_file": ("", "motion file to play (any supported format)"),
    "loop": (False, "loop the motion (each lap continues from where the last ended)"),
    "speed": (1.0, "playback speed factor"),
    "blend_in": (1.0, "seconds to blend from the default pose into the motion"),
    "blend_out": (1.0, "seconds to blend from the end of the motion back to the default pose"),
    "rate": (50.0, "publication rate [Hz]; the motion is resampled to it"),
    "future_frames": (0, "number of future frames in each message (privileged/teacher use)"),
    "future_step": (0.1, "seconds between future frames"),
    "align_to_robot": (True, "start at the robot's position and heading (from robot_state)"),
    "align_timeout": (2.0, "seconds to wait for robot_state before starting at the origin"),
    "wait_for_subscribers": (0, "start playback only once motion_reference has this many subscribers"),
    "start_paused": (False, "start paused (resume with ~/pause false)"),
    "frame_id": ("odom", "world frame of the reference (the bridge's odom frame)"),
}


class MocapReference(Node):
    """The mocap reference publisher; see the module docstring."""

    def __init__(self, **overrides) -> None:
        """Load and validate the motion, then set up publishing (raises MotionError on a bad file)."""
        super().__init__("mocap_reference", parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, _descriptor(description))
        self.p = p = {name: self.get_parameter(name).value for name in PARAMETERS}
        if not p["motion_file"]:
            raise MotionError("parameter motion_file is empty")
        self.spec = load_robot_spec()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            motion = read_motion(p["motion_file"], self.spec)
        for warning in caught:
            self.get_logger().warning(str(warning.message))
        if abs(motion.fps - p["rate"]) > 1e-9:
            motion = resample(motion, self.spec, p["rate"])
        self.player = MotionPlayer(motion, self.spec, loop=p["loop"], speed=p["speed"], blend_in=p["blend_in"],
                                   blend_out=p["blend_out"])
        self.tau = 0.0
        self.sequence = 0
        self.paused = p["start_paused"]
        self.started = False
        self._waited = 0.0
        self._robot_pose: tuple[np.ndarray, float] | None = None
        self.reference_pub = self.create_publisher(MotionReference, "motion_reference", CONTROL_QOS)
        self.joint_state_pub = self.create_publisher(JointState, "reference/joint_states", 10)
        self.tf_pub = self.create_publisher(TFMessage, "/tf", 10) if TFMessage is not None else None
        self.create_subscription(RobotState, "robot_state", self._on_robot_state, CONTROL_QOS)
        self.create_service(SetBool, "~/pause", self._on_pause)
        self.create_service(Trigger, "~/restart", self._on_restart)
        self.create_timer(1.0 / p["rate"], self.tick)
        self.get_logger().info(f"playing {p['motion_file']}: {motion.num_frames} frames, {motion.duration:.2f} s, "
                               f"loop={p['loop']}, speed={p['speed']}")

    def _on_robot_state(self, msg: RobotState) -> None:
        if msg.privileged_valid:
            pose = msg.base_pose
            q = pose.orientation
            self._robot_pose = (np.array([pose.position.x, pose.position.y]),
                                float(rotations.yaw([q.w, q.x, q.y, q.z])))
        else:  # the real robot: heading from the IMU, position unknown (origin of the odom frame)
            q = msg.imu_orientation
            self._robot_pose = (np.zeros(2), float(rotations.yaw([q.w, q.x, q.y, q.z])))

    def _ready(self) -> bool:
        """Whether playback may start (aligned, or timed out waiting; enough subscribers)."""
        if self.reference_pub.get_subscription_count() < self.p["wait_for_subscribers"]:
            return False
        if not self.p["align_to_robot"]:
            return True
        if self._robot_pose is None and self._waited < self.p["align_timeout"]:
            return False
        if self._robot_pose is None:
            self.get_logger().warning(f"no robot_state within {self.p['align_timeout']} s: starting at the origin")
        else:
            self.player.align(*self._robot_pose)
        return True

    def tick(self) -> None:
        """Publish the frame of this tick and advance playback time."""
        period = 1.0 / self.p["rate"]
        if not self.started:
            self._waited += period
            if not self._ready():
                return
            self.started = True
        frame = self.player.frame(self.tau)
        future = [(k * self.p["future_step"], self.player.frame(self.tau + k * self.p["future_step"]))
                  for k in range(1, self.p["future_frames"] + 1)]
        valid = all(_finite(f) for f in [frame] + [f for _, f in future])
        if not valid:  # never publish NaN: hold the default pose, flagged invalid
            self.get_logger().error("non-finite reference frame: publishing an invalid hold frame",
                                    throttle_duration_sec=1.0)
            frame, future = self.player.frame(0.0), []
        source = MotionReference.SOURCE_HOLD if frame.phase == Phase.HOLD or not valid else MotionReference.SOURCE_MOCAP
        msg = rm.reference_message(self.spec, self.get_clock().now().to_msg(), self.sequence, source, valid,
                                   self.p["frame_id"], frame, future)
        self.reference_pub.publish(msg)
        self.joint_state_pub.publish(rm.reference_joint_state(msg))
        if self.tf_pub is not None:
            self.tf_pub.publish(TFMessage(transforms=[
                rm.reference_transform(msg, f"reference/{self.spec.model.root_body}")]))
        self.sequence += 1
        if not self.paused:
            self.tau += period

    def _on_pause(self, request, response):
        self.paused = request.data
        response.success = True
        response.message = "paused" if self.paused else "resumed"
        self.get_logger().info(response.message)
        return response

    def _on_restart(self, _request, response):
        self.tau = 0.0
        self.started = False
        self._waited = 0.0
        response.success, response.message = True, "restarting: align, then blend in"
        self.get_logger().info(response.message)
        return response


def _finite(frame: ReferenceFrame) -> bool:
    return all(np.all(np.isfinite(getattr(frame, f))) for f in
               ("root_pos", "root_quat", "root_lin_vel_local", "root_ang_vel_local", "joint_pos", "joint_vel",
                "key_body_pos_local"))


def _descriptor(description: str):
    from rcl_interfaces.msg import ParameterDescriptor

    return ParameterDescriptor(description=description)


def usage() -> str:
    """The --help text."""
    lines = [__doc__, "Usage: ros2 run cmg_node mocap_reference --ros-args -p motion_file:=FILE [-p NAME:=VALUE ...]",
             "", "Parameters:"]
    lines += [f"  {name:<22} {default!r:<10} {text}" for name, (default, text) in PARAMETERS.items()]
    return "\n".join(lines)


def main(args: list[str] | None = None) -> None:
    """Entry point."""
    argv = sys.argv if args is None else args
    if "--help" in argv or "-h" in argv:
        print(usage())
        return
    rclpy.init(args=args)
    node = None
    try:
        node = MocapReference()
        rclpy.spin(node)
    except MotionError as exc:
        print(f"mocap_reference: cannot play the motion: {exc}", file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
