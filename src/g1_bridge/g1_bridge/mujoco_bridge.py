"""ROS 2 node `mujoco_bridge`: the G1 in MuJoCo behind the bridge safety state machine.

Subscribes to ``joint_command`` (twist_msgs/JointCommand); publishes ``robot_state`` (twist_msgs/RobotState)
once per control tick, ``joint_states``, ``imu``, ``odom``, ``/tf`` (when tf2_msgs is installed),
``bridge_status`` at ``status_rate`` and, in lockstep, ``/clock``. Services: ``~/start``, ``~/go``,
``~/damp`` (std_srvs/Trigger), ``~/gantry`` (std_srvs/SetBool), ``~/reset`` (twist_msgs/Reset). Subscribes to
``~/push`` (geometry_msgs/Vector3: a velocity change [m/s, world frame] added to the pelvis before the next physics
step, for push-recovery tests; pushes with a component beyond ``max_push`` or not finite are refused).

Clock modes:
  * ``realtime``: physics runs in control-tick bursts paced by the wall clock; the status reports the
    real-time factor.
  * ``lockstep``: after publishing RobotState k the bridge waits until a JointCommand with
    ``state_sequence == k`` arrives (or ``lockstep_timeout`` wall seconds pass), then advances exactly one
    control tick. Deterministic for a given seed and command sequence. Stamps and ``/clock`` are sim time.

Bounded commands: a JointCommand's gains, velocity targets and feed-forward torques beyond config/g1.yaml's
bounds are clamped to them and counted (``commands_clamped``, ``clamp_message`` in the status); before each control
tick's physics the targets go through ``twist_core.safety.limit_torque`` (positions within the joint limits, the PD
torque predicted from the measured state within the effort limits; counted as ``torque_clamps``), as on the robot.

QoS: commands and states are RELIABLE, KEEP_LAST 1 (the latest sample is the only useful one, and lockstep
must not lose one); the status is RELIABLE + TRANSIENT_LOCAL so a late subscriber gets the current mode.
"""

from __future__ import annotations

import time

import numpy as np
import rclpy
from rosgraph_msgs.msg import Clock
from geometry_msgs.msg import Vector3
from std_srvs.srv import SetBool
from twist_msgs.msg import BridgeStatus, JointCommand
from twist_msgs.srv import Reset

from g1_bridge import messages
from g1_bridge.bridge_node import FRAME_PARAMETERS, SAFETY_PARAMETERS, BridgeNode, command_line, run_bridge
from twist_core import video
from twist_core.sim import G1Sim, GantryConfig
from twist_core.safety import Mode, limit_torque
from twist_node_common.parameters import usage as usage_text


__all__ = ["PARAMETERS", "MujocoBridge", "main"]
CLOCK_MODES = {"realtime": BridgeStatus.CLOCK_MODE_REALTIME, "lockstep": BridgeStatus.CLOCK_MODE_LOCKSTEP}

PARAMETERS = {
    # name: (default, description)
    "physics_rate": (500.0, "physics steps per second"),
    "control_rate": (50.0, "RobotState publications (control ticks) per second; divides physics_rate"),
    "clock_mode": ("realtime", "realtime (wall-clock paced) or lockstep (one tick per command)"),
    "lockstep_timeout": (0.1, "lockstep: wall seconds to wait for the command of a tick before advancing anyway"),
    "status_rate": (10.0, "bridge_status publications per second (wall clock)"),
    "auto_start": (False, "request start (ramp to the default pose) right after launch"),
    **SAFETY_PARAMETERS,
    "min_height": (0.35, "pelvis height bound [m] before damping"),
    "gantry_stiffness": (4000.0, "virtual gantry spring [N/m]"),
    "gantry_damping": (400.0, "virtual gantry damper [N*s/m]"),
    "gantry_height": (0.0, "virtual gantry anchor height [m]; 0: the standing height"),
    "release_gantry_on_go": (True, "release the gantry when entering POLICY"),
    "max_push": (3.0, "largest accepted ~/push component [m/s]"),
    "imu_gyro_noise": (0.0, "gyro noise standard deviation [rad/s]"),
    "imu_accel_noise": (0.0, "accelerometer noise standard deviation [m/s^2]"),
    "seed": (0, "seed of the sensor noise"),
    "record_video": ("", "mp4 file to record (offscreen rendering, 30 fps of sim time); empty: no video"),
    "viewer": (False, "open the MuJoCo viewer window (needs a display)"),
    **FRAME_PARAMETERS,
}


class MujocoBridge(BridgeNode):
    """The MuJoCo bridge node; see the module docstring."""

    backend = "mujoco"

    def __init__(self, **overrides) -> None:
        """Declare parameters, build the simulation and the ROS interfaces."""
        super().__init__("mujoco_bridge", PARAMETERS, overrides, min_height_parameter=True)
        p = self.params
        if p["clock_mode"] not in CLOCK_MODES:
            raise ValueError(f"clock_mode must be one of {sorted(CLOCK_MODES)}, not {p['clock_mode']!r}")
        substeps = p["physics_rate"] / p["control_rate"]
        if p["control_rate"] <= 0 or abs(substeps - round(substeps)) > 1e-9 or round(substeps) < 1:
            raise ValueError(f"physics_rate {p['physics_rate']} must be a multiple of control_rate {p['control_rate']}")
        self.lockstep = p["clock_mode"] == "lockstep"
        self.substeps = int(round(substeps))
        gantry = GantryConfig(stiffness=p["gantry_stiffness"], damping=p["gantry_damping"],
                              height=p["gantry_height"] or None)
        self.sim = G1Sim(self.spec, p["physics_rate"], gantry, (p["imu_gyro_noise"], p["imu_accel_noise"]),
                         p["seed"])
        self._answered = -1  # highest state sequence a command answered
        self._rtf_mark = (time.monotonic(), self.sim.time)
        self.real_time_factor = 0.0
        self._reset_pending = False

        self.clock_pub = self.create_publisher(Clock, "/clock", 10) if self.lockstep else None
        self.create_service(SetBool, "~/gantry", self._on_gantry)
        self.create_service(Reset, "~/reset", self._on_reset)
        self.create_subscription(Vector3, "~/push", self._on_push, 10)
        self.create_timer(1.0 / p["status_rate"], self.publish_status, clock=self.steady)
        self.recorder = self.viewer = None
        if p["record_video"]:
            self.recorder, text = video.open_recorder(self.sim.model, p["record_video"],
                                                      track_body=self.sim.model.body(self.spec.model.root_body).id)
            self.log(self.recorder is not None, text)
        if p["viewer"]:
            self.viewer, text = video.open_viewer(self.sim.model, self.sim.data)
            self.log(self.viewer is not None, text)
        if p["auto_start"]:
            self.request("start")
        self.get_logger().info(
            f"MuJoCo G1 ready: {p['clock_mode']} clock, physics {p['physics_rate']:.0f} Hz, "
            f"control {p['control_rate']:.0f} Hz, mode {self.safety.mode.name}")

    # -- the control tick -----------------------------------------------------------------------------
    def tick(self) -> None:
        """Check safety, publish the state of this tick, and hand the targets to the simulation."""
        state = self.sim.state()
        roll, pitch = state.roll_pitch
        self.safety.update(state.time, state.q, state.dq, roll, pitch, state.height, state.saturated)
        self.log_fault()
        if self.safety.mode == Mode.POLICY and self.params["release_gantry_on_go"] and self.sim.gantry_engaged:
            self.sim.set_gantry(False)
        stamp = self._stamp(state.time)
        msg = self.publish_state(stamp, state, privileged=True)
        self.publish_odometry(stamp, msg.base_pose, msg.base_twist)
        if self.clock_pub is not None:
            self.clock_pub.publish(Clock(clock=stamp))

    def advance(self) -> None:
        """Apply the current targets, torque-limited from the measured state, for one control tick of physics."""
        q, dq = self.sim.joints()
        targets, clamped = limit_torque(self.spec, self.safety.targets(self.sim.time), q, dq)
        self.torque_clamps += clamped
        self.sim.set_targets(targets)
        self.sim.step(self.substeps)
        self.sequence += 1
        if self.recorder is not None:
            self.recorder.maybe_capture(self.sim.data)
        if self.viewer is not None and self.viewer.is_running():
            self.viewer.sync()

    def close(self, reason: str = "exit") -> None:
        """Finish the video file and close the viewer (whatever the ``reason``)."""
        if self.recorder is not None:
            self.recorder.close()
            self.get_logger().info(f"wrote {self.recorder.frames} frames to {self.recorder.path}")
            self.recorder = None
        if self.viewer is not None:
            self.viewer.close()
            self.viewer = None

    def run(self) -> None:
        """Run until shutdown: lockstep or real-time."""
        period = 1.0 / self.params["control_rate"]
        next_tick = time.monotonic()
        while rclpy.ok():
            self.tick()
            if self.lockstep:
                deadline = time.monotonic() + self.params["lockstep_timeout"]
                while rclpy.ok() and self._answered < self.sequence and time.monotonic() < deadline:
                    rclpy.spin_once(self, timeout_sec=max(0.0, deadline - time.monotonic()))
            else:
                next_tick += period
                # at least one pass per tick, also when behind: while catching up after a stall the commands that
                # arrived meanwhile must still be taken, or the command deadline (simulated time) trips with them
                # queued
                while rclpy.ok():
                    rclpy.spin_once(self, timeout_sec=max(0.0, next_tick - time.monotonic()))
                    if time.monotonic() >= next_tick:
                        break
                if time.monotonic() - next_tick > 5 * period:  # overrun: do not try to catch up
                    next_tick = time.monotonic()
            if self._reset_pending:  # a reset happened while waiting: publish its state 0 first
                self._reset_pending = False
                continue
            self.advance()

    # -- inputs -----------------------------------------------------------------------------------------
    def now(self) -> float:
        """Simulated time: the state machine runs on the simulation's clock."""
        return self.sim.time

    def measured_q(self):
        """The simulated joint positions."""
        return self.sim.state().q

    def after_command(self, msg: JointCommand) -> None:
        """Lockstep: the command of the current tick has arrived."""
        if msg.state_sequence == self.sequence:
            self._answered = self.sequence

    def _on_push(self, msg: Vector3) -> None:
        velocity = np.array([msg.x, msg.y, msg.z])
        try:
            if np.abs(velocity).max() > self.params["max_push"]:
                raise ValueError(f"a component beyond max_push {self.params['max_push']:g} m/s")
            self.sim.push(velocity)  # refuses non-finite pushes
        except ValueError as exc:
            self.get_logger().warning(f"push {velocity.tolist()} m/s refused: {exc}")
            return
        self.get_logger().info(f"push: pelvis velocity + {velocity.round(3).tolist()} m/s at t={self.sim.time:.2f} s")

    def _on_gantry(self, request, response):
        self.sim.set_gantry(request.data)
        response.success = True
        response.message = "gantry engaged" if request.data else "gantry released"
        return self._report("gantry", response)

    def _on_reset(self, request, response):
        try:
            if request.use_frame:
                frame = request.frame
                q = self.spec.default_pose.copy()
                q[self.spec.indices_of(request.joint_names)] = frame.joint_positions
                pose = frame.root_pose
                self.sim.reset(q=q, base_pos=[pose.position.x, pose.position.y, pose.position.z],
                               base_quat_wxyz=[pose.orientation.w, pose.orientation.x, pose.orientation.y,
                                               pose.orientation.z])
            else:
                self.sim.reset()
        except (ValueError, IndexError) as exc:
            response.success, response.message = False, f"reset refused: {exc}"
            return self._report("reset", response)
        self.safety.reset()
        self.sequence = 0
        self._answered = -1
        self._reset_pending = True
        self._rtf_mark = (time.monotonic(), self.sim.time)
        response.success, response.message = True, "reset: ZERO_TORQUE, gantry engaged"
        return self._report("reset", response)

    def _report(self, what: str, response):
        self.log(response.success, f"{what}: {response.message} (mode {self.safety.mode.name})")
        self.publish_status()
        return response

    # -- status -----------------------------------------------------------------------------------------
    def fill_status(self, msg: BridgeStatus) -> None:
        """Simulation fields of the status: sim-time stamp, clock mode, gantry, real-time factor."""
        wall, sim_time = time.monotonic(), self.sim.time
        if wall - self._rtf_mark[0] > 0.5:
            self.real_time_factor = (sim_time - self._rtf_mark[1]) / (wall - self._rtf_mark[0])
            self._rtf_mark = (wall, sim_time)
        msg.header.stamp = self._stamp(sim_time)
        msg.clock_mode = CLOCK_MODES[self.params["clock_mode"]]
        msg.gantry_engaged = self.sim.gantry_engaged
        msg.real_time_factor = float(self.real_time_factor)
        msg.pelvis_height = self.sim.state().height

    def _stamp(self, sim_time: float):
        return messages.stamp_from_seconds(sim_time) if self.lockstep else self.get_clock().now().to_msg()


def usage() -> str:
    """The --help text: how to run the node and every parameter with its default."""
    return usage_text(__doc__, command_line("mujoco_bridge"), PARAMETERS)


def main(args: list[str] | None = None) -> None:
    """Entry point: ros2 run g1_bridge mujoco_bridge --ros-args -p clock_mode:=lockstep ..."""
    run_bridge("mujoco_bridge", usage, MujocoBridge, args)


if __name__ == "__main__":
    main()
