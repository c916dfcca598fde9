"""The start check of a clip against the robot's pose, from any frame (rclpy-free)."""

import numpy as np

from twist_core import rotations
from twist_core.model import standing_height
from twist_core.motion import build_motion
from twist_reference.clip_session import RobotPose, StartLimits, first_startable_frame, start_problem


def _clip(spec, elbow_offsets, heights=None):
    """A standing clip whose right elbow is offset by ``elbow_offsets`` [rad] frame by frame."""
    frames = len(elbow_offsets)
    joints = np.tile(spec.default_pose, (frames, 1))
    joints[:, spec.joint_names.index("right_elbow_joint")] -= elbow_offsets
    height = np.full(frames, standing_height(spec, spec.default_pose)) if heights is None else heights
    root = np.column_stack([np.zeros(frames), np.zeros(frames), height])
    return build_motion(spec, 50.0, root, rotations.from_yaw(np.zeros(frames)), joints)


def test_first_startable_frame_is_where_the_check_first_passes(spec):
    """The elbow 1.5 rad from standing for 10 frames, then lowering: refused from frame 0, accepted from the first
    frame within the limit; never for a clip that stays too far; the same check as the node's first-frame one."""
    robot = RobotPose(np.zeros(2), 0.0, spec.default_pose.copy(), standing_height(spec, spec.default_pose), 0.0)
    offsets = np.r_[np.full(10, 1.5), np.linspace(1.55, 0.05, 16)]  # 0.1 rad per frame from frame 10
    clip = _clip(spec, offsets)
    limits = StartLimits()
    assert "right_elbow_joint starts 1.50 rad" in start_problem(spec, clip, robot, limits)
    first = first_startable_frame(spec, clip, robot, limits)
    assert first == 14 and offsets[first] <= 1.2 < offsets[first - 1]
    assert "right_elbow_joint is at frame 13 1.25 rad" in start_problem(spec, clip, robot, limits, first - 1)
    assert first_startable_frame(spec, clip, robot, StartLimits(max_joint_error=0.1)) == 25
    assert first_startable_frame(spec, _clip(spec, np.full(20, 1.5)), robot, limits) is None
    low = _clip(spec, np.zeros(20), np.linspace(0.55, 0.75, 20))  # a crouch rising back towards standing
    first = first_startable_frame(spec, low, robot, limits)
    assert abs(low.root_pos[first, 2] - robot.height) <= 0.15 < abs(low.root_pos[first - 1, 2] - robot.height)
