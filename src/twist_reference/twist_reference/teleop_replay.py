"""teleop-replay: play a motion file as a live teleoperation stream, optionally degraded like a real network.

Publishes each frame of the motion at its own rate (or ``--rate``; ``--loop``: each lap continuing from where the
last ended, as ``mocap_reference`` loops) as ``teleop/joint_states``
(sensor_msgs/JointState: the 29 joint names and positions [rad]) and ``teleop/root_pose``
(geometry_msgs/PoseStamped: the pelvis pose [m], frame ``--frame-id``), RELIABLE, depth 10, stamped with the
frame's capture time on the source's clock: the wall clock plus ``--clock-offset``. Degradations
(:func:`schedule`): each sample is sent ``--latency`` plus a uniform random ``--jitter`` late (so samples may
overtake each other), a ``--drop`` fraction is lost, and every ``--burst-every`` seconds the stream falls silent
for ``--burst`` seconds. Any format ``motion-tool`` reads (a G1 CSV needs ``--fps``). Remap the topics with
``--ros-args -r teleop/joint_states:=...``.

Example (with ``teleop_reference`` running)::

    teleop-replay clip.csv --fps 30 --jitter 0.03 --drop 0.2 --burst 0.3 --clock-offset 12.5
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from twist_core import rotations
from twist_core.motion import Motion, MotionError, resample
from twist_core.motion_formats import QUAT_ORDERS, read_motion
from twist_core.playback import MotionPlayer, ReferenceFrame
from twist_core.robot import RobotSpec, load_robot_spec


def schedule(times: np.ndarray, rng: np.random.Generator, latency: float = 0.0, jitter: float = 0.0,
             drop: float = 0.0, burst: float = 0.0, burst_every: float = 3.0) -> list[tuple[float, int]]:
    """(send time, sample index) of the samples captured at ``times`` [s] that are sent, in sending order.

    Sample k goes out at ``times[k] + latency + U(0, jitter)`` unless it is dropped (probability ``drop``) or
    captured within ``burst`` seconds after a multiple of ``burst_every`` (not the first: the stream starts).
    """
    if latency < 0 or jitter < 0 or burst < 0 or not 0.0 <= drop < 1.0 or not burst_every > 0:
        raise ValueError("latency, jitter, burst must be >= 0, drop in [0, 1), burst_every > 0")
    times = np.asarray(times, dtype=np.float64)
    sent = rng.random(len(times)) >= drop
    phase = np.mod(times, burst_every)
    sent &= ~((times >= burst_every) & (phase < burst))
    send_at = times + latency + rng.uniform(0.0, jitter, len(times))
    return sorted((float(send_at[k]), int(k)) for k in np.flatnonzero(sent))


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line (everything before --ros-args)."""
    parser = argparse.ArgumentParser(prog="teleop-replay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("motion_file", help="motion file (any motion-tool format)")
    parser.add_argument("--fps", type=float, default=None, help="frame rate of a file without one (G1 CSV)")
    parser.add_argument("--quat-order", choices=QUAT_ORDERS, default="xyzw", help="a CSV's quaternion order")
    parser.add_argument("--rate", type=float, default=None, help="stream at this rate [Hz] (resampled; default: "
                                                                 "the file's)")
    parser.add_argument("--loop", action="store_true", help="repeat the motion until interrupted")
    parser.add_argument("--latency", type=float, default=0.0, help="added delay of every sample [s]")
    parser.add_argument("--jitter", type=float, default=0.0, help="added uniform random delay up to this [s]")
    parser.add_argument("--drop", type=float, default=0.0, help="fraction of samples lost")
    parser.add_argument("--burst", type=float, default=0.0, help="silences of this many seconds ...")
    parser.add_argument("--burst-every", type=float, default=3.0, help="... every this many seconds")
    parser.add_argument("--clock-offset", type=float, default=0.0, help="the source clock's offset from the wall "
                                                                        "clock [s]")
    parser.add_argument("--no-root", action="store_true", help="stream the joints only")
    parser.add_argument("--frame-id", default="mocap", help="header.frame_id of the samples")
    parser.add_argument("--seed", type=int, default=0, help="random seed of jitter and drops")
    parser.add_argument("--wait", type=float, default=10.0, help="seconds to wait for a subscriber (0: none)")
    return parser.parse_args(argv)


def load(args: argparse.Namespace, spec: RobotSpec) -> Motion:
    """The motion to stream, at ``--rate`` if given."""
    motion = read_motion(args.motion_file, spec, fps=args.fps, quat_order=args.quat_order)
    return resample(motion, spec, args.rate) if args.rate else motion


def sampler(motion: Motion, spec: RobotSpec, loop: bool) -> MotionPlayer:
    """The motion as a function of time (``frame(t)``), where the file puts it; laps continue from the last."""
    player = MotionPlayer(motion, spec, loop=loop, blend_in=0.0, blend_out=0.0)
    player.align(motion.root_pos[0, :2], float(rotations.yaw(motion.root_quat[0])))
    return player


def replay(motion: Motion, spec: RobotSpec, args: argparse.Namespace, ros_args: list[str]) -> tuple[int, int]:
    """Stream ``motion`` as the arguments say; returns (samples sent, samples captured)."""
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState

    rclpy.init(args=["teleop_replay", "--ros-args", *ros_args] if ros_args else None)
    node = rclpy.create_node("teleop_replay")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    joints_pub = node.create_publisher(JointState, "teleop/joint_states", qos)
    root_pub = None if args.no_root else node.create_publisher(PoseStamped, "teleop/root_pose", qos)
    deadline = time.monotonic() + args.wait
    while args.wait > 0 and joints_pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    rng = np.random.default_rng(args.seed)
    player = sampler(motion, spec, args.loop)
    lap_frames = motion.num_frames - 1 if args.loop else motion.num_frames  # a lap's last frame is the next's first
    sent = captured = 0
    start = time.time()
    try:
        lap = 0
        while True:
            times = (lap * lap_frames + np.arange(lap_frames)) / motion.fps
            plan = schedule(times, rng, args.latency, args.jitter, args.drop, args.burst, args.burst_every)
            for send_at, k in plan:
                time.sleep(max(0.0, start + send_at - time.time()))
                publish(joints_pub, root_pub, motion.joint_names, player.frame(times[k]),
                        start + times[k] + args.clock_offset, args.frame_id)
            sent += len(plan)
            captured += len(times)
            lap += 1
            if not args.loop:
                break
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return sent, captured


def publish(joints_pub, root_pub, joint_names, frame: ReferenceFrame, stamp: float, frame_id: str) -> None:
    """Publish ``frame`` stamped ``stamp`` [s] (the root only with a ``root_pub``)."""
    from builtin_interfaces.msg import Time
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import JointState

    nanoseconds = int(round(stamp * 1e9))
    msg = JointState(name=list(joint_names), position=frame.joint_pos.tolist())
    msg.header.stamp = Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)
    msg.header.frame_id = frame_id
    joints_pub.publish(msg)
    if root_pub is not None:
        pose = PoseStamped(header=msg.header)
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (float(v) for v in frame.root_pos)
        q = pose.pose.orientation
        q.w, q.x, q.y, q.z = (float(v) for v in frame.root_quat)
        root_pub.publish(pose)


def main(argv: list[str] | None = None) -> None:
    """Entry point: exit code 2 with the reason for a bad file or argument."""
    argv = sys.argv[1:] if argv is None else argv
    ros_args = argv[argv.index("--ros-args") + 1:] if "--ros-args" in argv else []
    args = parse_args(argv[:argv.index("--ros-args")] if "--ros-args" in argv else argv)
    try:
        schedule(np.zeros(1), np.random.default_rng(0), args.latency, args.jitter, args.drop, args.burst,
                 args.burst_every)
        spec = load_robot_spec()
        motion = load(args, spec)
    except (MotionError, ValueError) as exc:
        print(f"teleop-replay: {' '.join(str(exc).split())}", file=sys.stderr)
        sys.exit(2)
    print(f"teleop-replay: {args.motion_file}: {motion.num_frames} frames at {motion.fps:g} Hz"
          f"{' (looping)' if args.loop else ''}", flush=True)
    sent, captured = replay(motion, spec, args, ros_args)
    print(f"teleop-replay: sent {sent} of {captured} samples", flush=True)


if __name__ == "__main__":
    main()
