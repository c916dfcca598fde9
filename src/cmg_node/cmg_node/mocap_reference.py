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

import warnings

from twist_msgs.msg import MotionReference

from cmg_node.node_common import COMMON_PARAMETERS, ReferenceNode, frame_is_finite, run, usage as _usage
from twist_core.motion import MotionError, resample
from twist_core.motion_formats import read_motion
from twist_core.playback import MotionPlayer, Phase

PARAMETERS = {
    "motion_file": ("", "motion file to play (any supported format)"),
    "loop": (False, "loop the motion (each lap continues from where the last ended)"),
    "speed": (1.0, "playback speed factor"),
    "blend_in": (1.0, "seconds to blend from the default pose into the motion"),
    "blend_out": (1.0, "seconds to blend from the end of the motion back to the default pose"),
    "rate": (50.0, "publication rate [Hz]; the motion is resampled to it"),
    **COMMON_PARAMETERS,
}


class MocapReference(ReferenceNode):
    """The mocap reference publisher; see the module docstring."""

    def __init__(self, **overrides) -> None:
        """Load and validate the motion, then set up publishing (raises MotionError on a bad file)."""
        super().__init__("mocap_reference", PARAMETERS, overrides)
        p = self.p
        if not p["motion_file"]:
            raise MotionError("parameter motion_file is empty")
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
        self.start_timer()
        self.get_logger().info(f"playing {p['motion_file']}: {motion.num_frames} frames, {motion.duration:.2f} s, "
                               f"loop={p['loop']}, speed={p['speed']}")

    def on_start(self, pose) -> None:
        """Align the first frame to the robot."""
        if pose is not None:
            self.player.align(*pose)

    def produce(self):
        """The frame at tau (and the future window); advance tau unless paused."""
        frame = self.player.frame(self.tau)
        future = [(k * self.p["future_step"], self.player.frame(self.tau + k * self.p["future_step"]))
                  for k in range(1, self.p["future_frames"] + 1)]
        valid = all(frame_is_finite(f) for f in [frame] + [f for _, f in future])
        if not valid:  # never publish NaN: hold the default pose, flagged invalid
            self.get_logger().error("non-finite reference frame: publishing an invalid hold frame",
                                    throttle_duration_sec=1.0)
            frame, future = self.player.frame(0.0), []
        source = MotionReference.SOURCE_HOLD if frame.phase == Phase.HOLD or not valid else MotionReference.SOURCE_MOCAP
        if not self.paused:
            self.tau += self.period
        return frame, future, source, valid

    def on_restart(self) -> str:
        """Back to the start of the timeline."""
        self.tau = 0.0
        return "restarting: align, then blend in"


def usage() -> str:
    """The --help text."""
    return _usage(__doc__, "ros2 run cmg_node mocap_reference --ros-args -p motion_file:=FILE [-p NAME:=VALUE ...]",
                  PARAMETERS)


def main(args: list[str] | None = None) -> None:
    """Entry point."""
    run(MocapReference, "mocap_reference", usage(), (MotionError,), "cannot play the motion", args)


if __name__ == "__main__":
    main()
