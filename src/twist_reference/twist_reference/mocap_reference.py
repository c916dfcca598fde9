"""ROS 2 node `mocap_reference`: plays motion clips on the robot as twist_msgs/MotionReference at 50 Hz.

The node publishes a standing reference where the robot stands until a clip starts, then the clip
(``twist_reference.clip_session``): checked against the robot's current pose (refused with the reason if too far; the
robot keeps standing), aligned to the robot's position and heading, blended in from the robot's current joints
and out to the default pose, then a standing reference where the clip ended. A clip starts

* ``start_on: policy`` (default): when the bridge hands the robot to the policy (``robot_state`` mode becomes
  POLICY), with ``motion_file``;
* ``start_on: start``: as soon as the node has aligned to the robot (or timed out waiting), with ``motion_file``;
* always: on the ``~/play`` service (twist_msgs/PlayMotion: a file, its fps for a CSV; "" = ``motion_file``).

Any motion file ``motion-tool`` reads (canonical .npz, AMASS-G1 .npz, TWIST/GMR .pkl, mjlab .npz, G1 CSV with
``fps``) is validated and resampled to the node's rate; an invalid ``motion_file`` stops the node at start with
the reason (exit code 2), an invalid clip asked for by ``~/play`` is refused and the robot keeps standing.

Publishes ``motion_reference`` (RELIABLE, KEEP_LAST 1), ``reference/joint_states`` and, with tf2_msgs, the
transform ``<frame_id> -> reference/<root>`` for the ghost robot in rviz2. Services: ``~/play``, ``~/pause``
(std_srvs/SetBool: true pauses, false resumes) and ``~/restart`` (std_srvs/Trigger: the clip again from where
the robot is now).
"""

from __future__ import annotations

import warnings

import numpy as np
from twist_msgs.msg import BridgeStatus, MotionReference, RobotState
from twist_msgs.srv import PlayMotion

from twist_reference.clip_session import ClipSession, RobotPose, StartLimits, robot_pose_from_state
from twist_reference.node_common import COMMON_PARAMETERS, ReferenceNode, frame_is_finite, robot_pose
from twist_core.motion import Motion, MotionError, resample
from twist_core.motion_formats import QUAT_ORDERS, read_motion
from twist_core.playback import Phase
from twist_core.robot import RobotSpecError
from twist_node_common.entry import run
from twist_node_common.parameters import SetupError, usage as _usage

START_ON = ("policy", "start", "service")

PARAMETERS = {
    "motion_file": ("", "motion file to play (any motion-tool format; '' : stand until ~/play names one)"),
    "fps": (0.0, "frame rate of motion_file where the file carries none (G1 CSV, e.g. 60), else 0"),
    "quat_order": ("xyzw", "root quaternion order of a CSV motion_file (xyzw or wxyz)"),
    "start_on": ("policy", "when motion_file starts: policy (the bridge hands the robot to the policy), start "
                           "(once aligned), service (only ~/play)"),
    "loop": (False, "loop the motion (each lap continues from where the last ended)"),
    "speed": (1.0, "playback speed factor"),
    "blend_in": (1.0, "seconds to blend from the robot's joints into the motion"),
    "blend_out": (1.0, "seconds to blend from the end of the motion back to the default pose"),
    "max_start_joint_error": (1.2, "a clip whose first frame has a joint further than this [rad] from the robot's "
                                   "is refused"),
    "max_start_height_error": (0.15, "... whose first pelvis height is further than this [m] from the robot's "
                                     "(simulation: the base pose) is refused"),
    "max_start_tilt": (0.5, "... whose first frame, or the robot, is tilted more than this [rad] is refused"),
    "rate": (50.0, "publication rate [Hz]; motions are resampled to it"),
    **COMMON_PARAMETERS,
}


class MocapReference(ReferenceNode):
    """The mocap reference publisher; see the module docstring."""

    def __init__(self, **overrides) -> None:
        """Load and validate ``motion_file`` (raises MotionError on a bad file), then set up publishing."""
        self.state: RobotState | None = None  # the latest robot_state (ReferenceNode subscribes)
        self._last_mode: int | None = None
        super().__init__("mocap_reference", PARAMETERS, overrides)
        p = self.p
        if p["start_on"] not in START_ON:
            raise SetupError(f"start_on must be one of {', '.join(START_ON)}, not {p['start_on']!r}")
        if p["quat_order"] not in QUAT_ORDERS:
            raise SetupError(f"quat_order must be one of {', '.join(QUAT_ORDERS)}, not {p['quat_order']!r}")
        limits = StartLimits(p["max_start_joint_error"], p["max_start_height_error"], p["max_start_tilt"])
        self.session = ClipSession(self.spec, limits, loop=p["loop"], speed=p["speed"], blend_in=p["blend_in"],
                                   blend_out=p["blend_out"])
        self.motion: Motion | None = None
        if p["motion_file"]:
            self.motion = self._load(p["motion_file"], p["fps"], p["quat_order"])
            self.get_logger().info(f"{p['motion_file']}: {self.motion.num_frames} frames, "
                                   f"{self.motion.duration:.2f} s; starts on {p['start_on']}")
        elif p["start_on"] != "service":
            self.get_logger().info("no motion_file: standing until ~/play names a clip")
        self.create_service(PlayMotion, "~/play", self._on_play)
        self.start_timer()

    def _load(self, path: str, fps: float, quat_order: str) -> Motion:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            motion = read_motion(path, self.spec, fps=fps if fps > 0 else None, quat_order=quat_order or "xyzw")
        for warning in caught:
            self.get_logger().warning(str(warning.message))
        if abs(motion.fps - self.p["rate"]) > 1e-9:
            motion = resample(motion, self.spec, self.p["rate"])
        return motion

    # -- the robot -------------------------------------------------------------------------------------
    def _on_robot_state(self, msg: RobotState) -> None:
        super()._on_robot_state(msg)
        self.state = msg
        if self.started and self._last_mode is not None and msg.mode != self._last_mode \
                and msg.mode == BridgeStatus.MODE_POLICY and self.p["start_on"] == "policy" and self.motion:
            self._start(self.motion, self.p["motion_file"])
        self._last_mode = msg.mode

    def robot(self) -> RobotPose:
        """The robot's pose from the latest robot_state (the origin, default pose, without one)."""
        state = self.state
        if state is None:
            return RobotPose(np.zeros(2), 0.0)
        xy, heading = robot_pose(state)
        q = state.imu_orientation
        joints = np.asarray(state.position, dtype=np.float64)
        usable = list(state.joint_names) == list(self.spec.joint_names) and len(joints) == self.spec.num_joints \
            and bool(np.all(np.isfinite(joints)))
        height = state.base_pose.position.z if state.privileged_valid else None
        return robot_pose_from_state(xy, heading, joints if usable else None, np.array([q.w, q.x, q.y, q.z]), height)

    def _start(self, motion: Motion, name: str) -> str | None:
        problem = self.session.play(motion, self.robot(), name)
        if problem:
            self.get_logger().error(f"{problem}; standing")
        else:
            self.get_logger().info(f"playing {name} ({motion.duration:.1f} s)")
        return problem

    # -- ReferenceNode ---------------------------------------------------------------------------------
    def on_start(self, pose) -> None:
        """Stand where the robot is; with ``start_on: start``, start the clip."""
        self.session.stand(self.robot() if pose is not None else RobotPose(np.zeros(2), 0.0))
        if self.p["start_on"] == "start" and self.motion is not None:
            self._start(self.motion, self.p["motion_file"])

    def produce(self):
        """The session's frame (and the future window); advance its time unless paused."""
        step = self.p["future_step"]
        frame, future = self.session.frames([k * step for k in range(1, self.p["future_frames"] + 1)])
        valid = all(frame_is_finite(f) for f in [frame] + [f for _, f in future])
        if not valid:  # never publish NaN: stand where the robot is, flagged invalid
            self.get_logger().error("non-finite reference frame: publishing an invalid standing frame",
                                    throttle_duration_sec=1.0)
            self.session.stand(self.robot())
            frame, future = self.session.frame(), []
        source = MotionReference.SOURCE_MOCAP if frame.phase != Phase.HOLD and valid else MotionReference.SOURCE_HOLD
        if not self.paused:
            self.session.advance(self.period)
        return frame, future, source, valid

    def on_restart(self) -> str:
        """The current clip again, from where the robot is now."""
        problem = self.session.restart(self.robot())
        return problem or f"restarting {self.session.name}"

    def _on_play(self, request: PlayMotion.Request, response: PlayMotion.Response) -> PlayMotion.Response:
        name = request.motion_file or self.p["motion_file"]
        response.success = False
        if not name:
            response.message = "no motion_file given and none configured"
        elif not self.started:
            response.message = "not started yet (waiting for robot_state or subscribers)"
        else:
            try:
                motion = self.motion if not request.motion_file else self._load(
                    request.motion_file, request.fps, request.quat_order)
                problem = self._start(motion, name)
                response.success, response.message = problem is None, problem or f"playing {name}"
            except MotionError as exc:
                response.message = f"{name} refused: {exc}"
                self.get_logger().error(f"{response.message}; standing")
        return response


def usage() -> str:
    """The --help text."""
    return _usage(__doc__, "ros2 run twist_reference mocap_reference --ros-args [-p motion_file:=FILE] "
                  "[-p NAME:=VALUE ...]", PARAMETERS)


def main(args: list[str] | None = None) -> None:
    """Entry point."""
    run(MocapReference, "mocap_reference", usage(), (MotionError, RobotSpecError), reason="cannot play the motion",
        args=args)


if __name__ == "__main__":
    main()
