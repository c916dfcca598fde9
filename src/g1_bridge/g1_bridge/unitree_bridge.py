"""ROS 2 node `unitree_bridge`: the real G1 over unitree_sdk2py (Cyclone DDS) behind the bridge safety state machine.

The ROS side is the MuJoCo bridge's (``g1_bridge.bridge_node``): ``joint_command`` in; ``robot_state`` (at
``control_rate``, not privileged), ``joint_states``, ``imu``, ``odom`` and the transform odom -> pelvis on ``/tf``
(with tf2_msgs), ``bridge_status`` out; ``~/start``, ``~/go``, ``~/damp`` services; the same modes and faults
(``twist_core.safety``). The odometry is estimated (``twist_core.odometry.LegOdometry``: the IMU's orientation,
the pelvis placed over the stance foot by the legs' kinematics; the twist's angular part is the gyroscope), so
rviz2 draws the robot where it walks. The wireless remote is published as ``wireless_remote``
(sensor_msgs/Joy, at ``control_rate`` while the remote is linked; layout ``unitree_protocol.joy_axes_buttons``):
``twist_teleop``'s ``joy_teleop`` turns its sticks into ``cmd_vel`` while L1 is held.

The robot side (Cyclone DDS, domain ``dds_domain`` on ``network_interface``):

* ``rt/lowstate`` (``unitree_hg`` LowState_, 500 Hz from the robot): CRC checked (``check_lowstate_crc``),
  motors 0-28 in the motor order of ``config/g1.yaml``, the pelvis IMU quaternion (w, x, y, z), gyroscope and
  accelerometer, ``mode_machine`` and the wireless remote.
* ``rt/lowcmd`` (LowCmd_) at ``lowcmd_rate`` (500 Hz) from its own thread, from the state machine's latest targets
  (the latest valid JointCommand in POLICY): ``mode_pr`` 0, ``mode_machine`` echoed from the latest LowState,
  ``mode`` 1 for motors 0-28 (0 for the unused slots 29-34), the CRC computed last. A JointCommand's gains,
  velocity targets and feed-forward torques beyond config/g1.yaml's bounds are clamped when it arrives (counted in
  the status); before it is sent each LowCmd goes through ``twist_core.safety.limit_torque``: position targets to
  the joint limits, feed-forward torque to the effort limits, and the PD torque predicted from the latest
  measured state (``tau + kp (q* - q) + kd (dq* - dq)``) to the effort limits by moving the position target
  (counted as ``torque_clamps``); a clamp active in POLICY for ``saturation_time`` is TORQUE_SATURATION.
  A NaN/Inf can never be sent: a non-finite command is replaced by damping (NON_FINITE).

Safety beyond the MuJoCo bridge: the wireless remote (START -> ramp to the default pose, A -> policy, B or
SELECT -> damping; START and A only while no shoulder button is held); LowState with a wrong CRC dropped and
counted (``states_dropped``), and no valid LowState for ``lowstate_timeout`` -> DAMPING (STATE_STALE, the drops
named); an all-zero or non-unit IMU quaternion, or a ``mode_machine`` other than the configured robot's ->
DAMPING (SENSOR); the pelvis height estimated from the joint encoders and the IMU (forward kinematics, the lower
foot on the floor) below ``min_height`` -> DAMPING (HEIGHT); the wireless remote's link lost (its 40 bytes zero for
``remote_timeout`` after it was seen) -> logged and in the status's ``warning`` until it is back (B/SELECT cannot
damp meanwhile); and damping on every exit path: an exception in any thread, SIGINT, SIGTERM and a normal
shutdown all end with ``shutdown_damping_time`` seconds of damping LowCmds. The LowCmd thread is supervised: if it
dies or sends nothing for ``lowcmd_watchdog`` seconds, the ROS thread sends damping itself, for
``shutdown_damping_time``, and the process exits with code 1.

Start-up: the interface must exist, LowState must arrive within ``lowstate_wait`` (robot reachable), its
``mode_machine`` must be the configured ``mode_machine`` and its IMU quaternion of unit norm, a checklist is printed
(interface address, LowState rate and CRC, mode_machine, motor voltage and temperatures, joints within limits), and
the onboard motion service is released through MotionSwitcher (``release_motion_service``; a service still active
after ``motion_service_timeout`` refuses the start; false for ``unitree_sim`` without ``--motion-service``). Only
then does LowCmd start, in ZERO_TORQUE.
"""

from __future__ import annotations

import dataclasses
import fcntl
import socket
import struct
import sys
import threading
import time

import numpy as np
from rclpy.duration import Duration
from sensor_msgs.msg import Joy
from twist_msgs.msg import BridgeStatus

from g1_bridge import unitree_protocol as up
from g1_bridge import messages
from g1_bridge.bridge_node import FRAME_PARAMETERS, SAFETY_PARAMETERS, BridgeNode, command_line, run_bridge
from twist_core import rotations
from twist_core.model import PelvisHeight
from twist_core.odometry import LegOdometry
from twist_core.robot import RobotSpec
from twist_core.safety import Fault, JointTargets, Mode, damping_targets, limit_torque
from twist_node_common.parameters import usage as usage_text

PARAMETERS = {
    # name: (default, description)
    "network_interface": ("eth0", "network interface wired to the G1 (192.168.123.0/24); lo for unitree_sim"),
    "dds_domain": (0, "Unitree DDS domain: 0 on the robot, 1 for unitree_sim"),
    "release_motion_service": (True, "release the onboard motion service (MotionSwitcher) before taking control"),
    "motion_service_timeout": (10.0, "seconds to wait for the motion service to answer and release"),
    "control_rate": (50.0, "RobotState publications per second"),
    "lowcmd_rate": (500.0, "rt/lowcmd publications per second (from the latest JointCommand)"),
    "lowstate_timeout": (0.1, "seconds without a valid LowState before damping"),
    "lowstate_wait": (10.0, "seconds to wait for the first LowState at start-up"),
    "check_lowstate_crc": (True, "drop LowState messages whose CRC is wrong"),
    "mode_machine": (5, "the robot's mode_machine (its type, in LowState); another one refuses start or damps "
                        "(unitree_sim reports 5: check what your G1 reports in the checklist)"),
    "remote_control": (True, "act on the wireless remote: START ramp, A policy, B/SELECT damping"),
    "remote_timeout": (1.0, "seconds of all-zero wireless-remote bytes before the remote's link counts as lost"),
    "shutdown_damping_time": (1.0, "seconds of damping LowCmd sent on exit before the node stops"),
    "lowcmd_watchdog": (0.5, "seconds without a LowCmd sent before the ROS thread damps and the bridge exits 1"),
    "status_rate": (10.0, "bridge_status publications per second"),
    **FRAME_PARAMETERS,
    **SAFETY_PARAMETERS,
    "min_height": (0.35, "pelvis height bound [m] (estimated from the legs' kinematics and the IMU) before damping"),
}
QUATERNION_NORM = (0.9, 1.1)  # an IMU quaternion outside these norms is a sensor fault


@dataclasses.dataclass
class LowStateSnapshot:
    """The parts of one LowState the bridge uses (motor order, float64) and when it arrived."""

    time: float
    q: np.ndarray
    dq: np.ndarray
    tau: np.ndarray
    imu_quat_wxyz: np.ndarray
    gyro: np.ndarray
    accel: np.ndarray
    mode_machine: int
    remote: np.ndarray
    temperature: np.ndarray
    voltage: np.ndarray
    imu_temperature: int


def snapshot_from_record(spec: RobotSpec, rec: np.ndarray, now: float) -> LowStateSnapshot:
    """A snapshot of a LOWSTATE_DTYPE record received at ``now``."""
    motors = rec["motor_state"][:spec.num_joints]
    imu = rec["imu_state"]
    return LowStateSnapshot(
        time=now, q=motors["q"].astype(np.float64), dq=motors["dq"].astype(np.float64),
        tau=motors["tau_est"].astype(np.float64), imu_quat_wxyz=imu["quaternion"].astype(np.float64),
        gyro=imu["gyroscope"].astype(np.float64), accel=imu["accelerometer"].astype(np.float64),
        mode_machine=int(rec["mode_machine"]), remote=rec["wireless_remote"].copy(),
        temperature=motors["temperature"].max(axis=1).astype(np.float64), voltage=motors["vol"].astype(np.float64),
        imu_temperature=int(imu["temperature"]))


def lowcmd_record(spec: RobotSpec, targets: JointTargets, mode_machine: int) -> np.ndarray:
    """The LowCmd for ``targets`` (motors 0..28 enabled, the rest disabled), its CRC computed last."""
    rec = np.zeros((), dtype=up.LOWCMD_DTYPE)
    rec["mode_pr"] = 0
    rec["mode_machine"] = mode_machine
    motors = rec["motor_cmd"]
    n = spec.num_joints
    motors["mode"][:n] = up.MOTOR_MODE_ENABLED
    motors["q"][:n] = targets.position
    motors["dq"][:n] = targets.velocity
    motors["tau"][:n] = targets.effort
    motors["kp"][:n] = targets.kp
    motors["kd"][:n] = targets.kd
    rec["crc"] = up.record_crc(rec)
    return rec


def record_is_finite(rec: np.ndarray) -> bool:
    """Every float of a LowCmd record is finite."""
    motors = rec["motor_cmd"]
    return all(bool(np.all(np.isfinite(motors[name]))) for name in ("q", "dq", "tau", "kp", "kd"))


def interface_address(name: str) -> str | None:
    """The IPv4 address of a network interface (None when it has none); OSError when it does not exist."""
    socket.if_nametoindex(name)  # raises OSError for an unknown interface
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))  # SIOCGIFADDR
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


class UnitreeBridge(BridgeNode):
    """The real-robot bridge node; see the module docstring."""

    backend = "unitree"

    def __init__(self, **overrides) -> None:
        """Check the set-up, connect to the robot, release its motion service, start the LowCmd thread."""
        super().__init__("unitree_bridge", PARAMETERS, overrides, min_height_parameter=True)
        p = self.params
        for key in ("control_rate", "lowcmd_rate", "status_rate", "lowstate_timeout", "remote_timeout",
                    "lowcmd_watchdog"):
            if p[key] <= 0:
                raise ValueError(f"{key} must be positive, not {p[key]}")
        self.latest: LowStateSnapshot | None = None
        self.lowstate_received = 0
        self._dropped_since_valid = 0  # LowStates dropped (wrong CRC) since the latest valid one
        self._height = PelvisHeight(self.spec)  # used by the LowCmd thread only
        self._odometry = LegOdometry(self.spec)  # used by the state timer (ROS thread) only
        self._stamped = None  # (LowState arrival [monotonic s], its RobotState stamp); the state timer's
        self.joy_pub = self.create_publisher(Joy, "wireless_remote", 10)
        self.pelvis_height = float("nan")  # the latest estimate
        self._remote_seen = False
        self._remote_silent_since: float | None = None
        self.lowcmd_sent = 0
        self._last_sent = time.monotonic()
        self.lowcmd_errors = 0
        self.lowcmd_period_max = 0.0
        self._saturated = False
        self._remote = up.RemoteActions()
        self._stop_at: float | None = None
        self._closing = False  # the ROS context may be gone: no more ROS output from the LowCmd thread
        self._lowstate_event = threading.Event()
        self._checklist: list[str] = []

        address = self._check_interface()
        self._connect()
        self._wait_for_robot()
        self._release_motion_service()
        self._lowcmd_msg = self._new_lowcmd()
        self._rescue_msg = self._new_lowcmd()  # damping sent from other threads when the LowCmd thread is gone
        self._last_sent = time.monotonic()
        self._thread = threading.Thread(target=self._lowcmd_loop, name="lowcmd", daemon=True)
        self._thread.start()
        try:
            self.create_timer(1.0 / p["control_rate"], self._publish_state, clock=self.steady)
            self.create_timer(1.0 / p["status_rate"], self.publish_status, clock=self.steady)
            self.create_timer(p["lowcmd_watchdog"] / 2, self._supervise, clock=self.steady)
            self._print_checklist(address)
        except Exception as exc:
            self.close(f"start-up error: {exc!r}")
            raise

    # -- start-up ---------------------------------------------------------------------------------------------
    def _item(self, ok: bool | None, text: str) -> None:
        self._checklist.append(f"  [{'ok' if ok else '--' if ok is None else '!!'}] {text}")

    def _check_interface(self) -> str | None:
        name = self.params["network_interface"]
        try:
            address = interface_address(name)
        except OSError:
            names = ", ".join(n for _, n in socket.if_nameindex())
            raise RuntimeError(f"network interface {name!r} does not exist (interfaces: {names}); "
                               f"set network_interface to the one wired to the robot") from None
        robot_net = address is not None and address.startswith("192.168.123.")
        self._item(True if robot_net or name == "lo" else None,
                   f"network interface {name} exists, address {address or 'none'}"
                   + ("" if robot_net or name == "lo" else " (the G1's network is 192.168.123.0/24)"))
        return address

    def _connect(self) -> None:
        from importlib.metadata import version

        from unitree_sdk2py.core.channel import ChannelFactoryInitialize, ChannelPublisher, ChannelSubscriber
        from unitree_sdk2py.idl.unitree_hg.msg.dds_ import LowCmd_, LowState_

        p = self.params
        ChannelFactoryInitialize(p["dds_domain"], p["network_interface"])
        self._lowcmd_pub = ChannelPublisher(up.LOWCMD_TOPIC, LowCmd_)
        self._lowcmd_pub.Init()
        self._lowstate_sub = ChannelSubscriber(up.LOWSTATE_TOPIC, LowState_)
        self._lowstate_sub.Init(self._on_lowstate, 0)
        self._item(True, f"Cyclone DDS (cyclonedds {version('cyclonedds')}, unitree_sdk2py), domain "
                         f"{p['dds_domain']} on {p['network_interface']}")

    def _wait_for_robot(self) -> None:
        p = self.params
        start = time.monotonic()
        if not self._lowstate_event.wait(p["lowstate_wait"]):
            hint = (f" ({self.states_dropped} LowState dropped for a wrong CRC: check_lowstate_crc)"
                    if self.states_dropped else "")
            raise RuntimeError(f"no LowState on {up.LOWSTATE_TOPIC} within {p['lowstate_wait']} s{hint}: is the "
                               f"robot on, wired to {p['network_interface']}, in domain {p['dds_domain']}?")
        first, counted = time.monotonic(), self.lowstate_received
        time.sleep(0.5)  # measure the LowState rate over half a second
        rate = (self.lowstate_received - counted) / (time.monotonic() - first)
        with self.lock:
            snap = self.latest
        self._item(rate > 0.5 * p["lowcmd_rate"] or None,
                   f"robot reachable: first LowState after {first - start:.2f} s, {rate:.0f} Hz, "
                   f"{self.states_dropped} CRC errors")
        if snap.mode_machine != p["mode_machine"]:
            raise RuntimeError(f"LowState reports mode_machine {snap.mode_machine}, the configured robot "
                               f"{p['mode_machine']} (parameter mode_machine): another robot type or firmware; set "
                               "mode_machine only if this robot is a G1 with 29 joints in config/g1.yaml's order")
        self._item(True, f"mode_machine {snap.mode_machine}, the configured robot's (echoed in every LowCmd)")
        norm = float(np.linalg.norm(snap.imu_quat_wxyz))
        if not QUATERNION_NORM[0] < norm < QUATERNION_NORM[1]:
            raise RuntimeError(f"the IMU quaternion {np.round(snap.imu_quat_wxyz, 3).tolist()} has norm {norm:.3f}: "
                               "no valid orientation from the IMU")
        self._item(None, f"battery: not in LowState (hg); motor supply voltage {snap.voltage.min():.1f}-"
                         f"{snap.voltage.max():.1f} V")
        hottest = int(np.argmax(snap.temperature))
        self._item(bool(snap.temperature[hottest] < 70) or None,
                   f"temperatures: motors max {snap.temperature[hottest]:.0f} degC "
                   f"({self.spec.joint_names[hottest]}), IMU {snap.imu_temperature} degC")
        outside = (snap.q < self.spec.lower_limits) | (snap.q > self.spec.upper_limits)
        names = [self.spec.joint_names[i] for i in np.flatnonzero(outside)]
        self._item(not names or None, "joints within their limits" if not names else f"joints outside: {names}")
        roll, pitch, _ = rotations.roll_pitch_yaw(snap.imu_quat_wxyz / norm)
        self._item(bool(max(abs(roll), abs(pitch)) < self.params["max_tilt"]) or None,
                   f"pelvis roll {roll:+.2f} pitch {pitch:+.2f} rad (IMU), height "
                   f"{self._height(snap.q, snap.imu_quat_wxyz / norm):.2f} m (estimated from the legs)")
        self._item(self._remote_seen or None, "wireless remote linked" if self._remote_seen else
                   "wireless remote: no data (not linked?): START/A/B/SELECT have no effect, damp with the service")

    def _release_motion_service(self) -> None:
        if not self.params["release_motion_service"]:
            self._item(None, "motion service: not released (release_motion_service is false)")
            return
        from unitree_sdk2py.comm.motion_switcher.motion_switcher_client import MotionSwitcherClient

        client = MotionSwitcherClient()
        client.SetTimeout(self.params["motion_service_timeout"])
        client.Init()
        deadline = time.monotonic() + self.params["motion_service_timeout"]
        while True:
            code, result = client.CheckMode()
            if code != 0:
                raise RuntimeError(f"the motion service did not answer CheckMode (code {code}); put the robot in "
                                   "debug mode (L2+R2) or set release_motion_service:=false")
            if not result or not result.get("name"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the motion service still runs {result.get('name')!r} after "
                                   f"{self.params['motion_service_timeout']} s of ReleaseMode")
            self.get_logger().info(f"releasing the motion service ({result.get('name')!r})")
            client.ReleaseMode()
            time.sleep(0.5)
        self._item(True, "motion service released (MotionSwitcher: no mode active)")

    def _print_checklist(self, address: str | None) -> None:
        p = self.params
        lines = ["unitree_bridge start-up checklist:", *self._checklist,
                 f"  [ok] LowCmd at {p['lowcmd_rate']:.0f} Hz from now on, mode {self.safety.mode.name}",
                 "  remote: START ramp to the default pose, A policy (from HOLD), B or SELECT damping; "
                 f"services /{self.get_name()}/start|go|damp"]
        print("\n".join(lines), flush=True)

    # -- the robot side -----------------------------------------------------------------------------------
    def _on_lowstate(self, msg) -> None:
        """LowState arrived (a Cyclone listener thread)."""
        try:
            now = time.monotonic()
            rec = up.lowstate_record(msg)
            if self.params["check_lowstate_crc"] and up.record_crc(rec) != int(rec["crc"]):
                with self.lock:
                    self.states_dropped += 1
                    self._dropped_since_valid += 1
                self.get_logger().warning(f"LowState with a wrong CRC dropped ({self.states_dropped} so far)",
                                          throttle_duration_sec=1.0)
                return
            snap = snapshot_from_record(self.spec, rec, now)
            with self.lock:
                self.latest = snap
                self.lowstate_received += 1
                self._dropped_since_valid = 0
            self._lowstate_event.set()
            self._watch_remote(up.remote_linked(snap.remote), now)
            if self.params["remote_control"]:
                for action in self._remote.update(up.parse_remote(snap.remote)):
                    self.request(action, "damping requested on the wireless remote (B/SELECT)")
        except Exception as exc:  # noqa: BLE001 - never let a bad message kill the listener
            self.get_logger().error(f"LowState handling failed: {exc!r}", throttle_duration_sec=1.0)

    def _watch_remote(self, linked: bool, now: float) -> None:
        """Track the wireless remote's link; a lost one is logged and put in the status's warning."""
        if linked:
            if self.warning:
                self.get_logger().info("the wireless remote's link is back")
                self.warning = ""
                self.publish_status()
            self._remote_seen, self._remote_silent_since = True, None
            return
        if not self._remote_seen:
            return
        if self._remote_silent_since is None:
            self._remote_silent_since = now
        elif now - self._remote_silent_since > self.params["remote_timeout"] and not self.warning:
            self.warning = (f"the wireless remote's link is lost (no remote data for {self.params['remote_timeout']:g} "
                            "s): B/SELECT cannot damp; damp with the service or Ctrl-C, stop cmd_vel")
            self.get_logger().error(self.warning)
            self.publish_status()

    def _supervise(self) -> None:
        """ROS thread: if the LowCmd thread died or stalled, damp from here and end the node (exit code 1)."""
        if self._closing:
            return
        silent = time.monotonic() - self._last_sent
        if self._thread.is_alive() and silent <= self.params["lowcmd_watchdog"]:
            return
        what = "died" if not self._thread.is_alive() else f"sent nothing for {silent * 1e3:.0f} ms"
        with self.lock:
            self.safety.damp(f"the LowCmd thread {what}")
        self._send_damping(self._rescue_msg)
        raise RuntimeError(f"the LowCmd thread {what}: damping from the ROS thread, stopping")

    def _new_lowcmd(self):
        from unitree_sdk2py.idl.default import unitree_hg_msg_dds__LowCmd_

        return unitree_hg_msg_dds__LowCmd_()

    def _lowcmd_loop(self) -> None:
        """Send LowCmd at lowcmd_rate until the shutdown damping has been sent."""
        period = 1.0 / self.params["lowcmd_rate"]
        next_send = last = time.monotonic()
        while self._stop_at is None or time.monotonic() < self._stop_at:
            try:
                self._send_lowcmd()
            except Exception as exc:  # noqa: BLE001 - damp, report, keep sending
                self.lowcmd_errors += 1
                with self.lock:
                    self.safety.damp(f"internal error in the LowCmd thread: {exc!r}")
                if self.lowcmd_errors in (1, 10, 100) or self.lowcmd_errors % 1000 == 0:
                    print(f"unitree_bridge: LowCmd thread error #{self.lowcmd_errors}: {exc!r}; damping",
                          file=sys.stderr, flush=True)
                self._send_damping()
            now = time.monotonic()
            if self.lowcmd_sent > 1:
                self.lowcmd_period_max = max(self.lowcmd_period_max, now - last)
            last = now
            next_send += period
            delay = next_send - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -5 * period:  # overrun: do not burst to catch up
                next_send = time.monotonic()

    def _send_lowcmd(self) -> None:
        now = time.monotonic()
        p = self.params
        # The state is judged and a fault tripped in one hold of the lock: a snapshot read before the listener
        # stored a healthy one and applied a remote start must not trip its stale fault after that start.
        with self.lock:
            snap, dropped = self.latest, self._dropped_since_valid
            age = now - snap.time
            norm = float(np.linalg.norm(snap.imu_quat_wxyz))
            if age > p["lowstate_timeout"]:
                fault, text = Fault.STATE_STALE, (
                    f"no LowState for {age * 1e3:.0f} ms (timeout {p['lowstate_timeout'] * 1e3:.0f} ms"
                    + (f"; {dropped} dropped for a wrong CRC meanwhile)" if dropped else ")"))
            elif not QUATERNION_NORM[0] < norm < QUATERNION_NORM[1]:
                fault, text = Fault.SENSOR, f"IMU quaternion of norm {norm:.3f}: no valid orientation"
            elif snap.mode_machine != p["mode_machine"]:
                fault, text = Fault.SENSOR, f"mode_machine {snap.mode_machine}, not the configured {p['mode_machine']}"
            else:
                fault, text = Fault.NONE, ""
            if fault != Fault.NONE:
                self.safety.trip(fault, text)
        if fault == Fault.NONE:
            quat = snap.imu_quat_wxyz / norm
            roll, pitch, _ = rotations.roll_pitch_yaw(quat)
            height = self.pelvis_height = self._height(snap.q, quat)
        with self.lock:
            if fault == Fault.NONE:
                self.safety.update(now, snap.q, snap.dq, float(roll), float(pitch), height, self._saturated)
            targets = self.safety.targets(now)
            damping = self.safety.mode == Mode.DAMPING
        self.log_fault()
        targets, saturated = limit_torque(self.spec, targets, snap.q, snap.dq)
        self.torque_clamps += saturated
        self._saturated = saturated and not damping
        rec = lowcmd_record(self.spec, targets, snap.mode_machine)
        if not record_is_finite(rec):
            with self.lock:
                self.safety.trip(Fault.NON_FINITE, "non-finite LowCmd replaced by damping")
            self.log_fault()
            self._send_damping()
            return
        self._write(rec)

    def _send_damping(self, msg=None) -> None:
        """Send one damping LowCmd (constants only, so it cannot fail on bad data); ``msg``: the message to fill."""
        mode_machine = self.latest.mode_machine if self.latest is not None else 0
        self._write(lowcmd_record(self.spec, damping_targets(self.spec, self.params["damping_kd"]), mode_machine),
                    msg)

    def _write(self, rec: np.ndarray, msg=None) -> None:
        """Fill ``msg`` (default: the LowCmd thread's message) with ``rec`` and publish it."""
        msg = self._lowcmd_msg if msg is None else msg
        up.fill_lowcmd(msg, rec)
        self._lowcmd_pub.Write(msg)
        self.lowcmd_sent += 1
        self._last_sent = time.monotonic()

    def close(self, reason: str) -> None:
        """Damp, keep sending damping for ``shutdown_damping_time`` seconds, then stop the LowCmd thread."""
        self._closing = True
        with self.lock:
            self.safety.damp(f"shutdown: {reason}")
        self._stop_at = time.monotonic() + self.params["shutdown_damping_time"]
        if self._thread.is_alive():
            self._thread.join(self.params["shutdown_damping_time"] + 2.0)
        else:  # the LowCmd thread is gone: the damping comes from here
            while time.monotonic() < self._stop_at:
                self._send_damping(self._rescue_msg)
                time.sleep(1.0 / self.params["lowcmd_rate"])
        print(f"unitree_bridge: {reason}: damping sent for {self.params['shutdown_damping_time']:.1f} s; "
              f"{self.lowcmd_sent} LowCmd sent (longest period {self.lowcmd_period_max * 1e3:.1f} ms), "
              f"{self.lowstate_received} LowState received ({self.states_dropped} CRC errors)", flush=True)

    # -- the ROS side ---------------------------------------------------------------------------------------
    def now(self) -> float:
        """Monotonic wall time (the state machine's clock on the robot)."""
        return time.monotonic()

    def measured_q(self):
        """Joint positions of the latest LowState."""
        snap = self.latest
        return None if snap is None else snap.q

    def publish_status(self) -> None:
        """Publish BridgeStatus, unless the node is shutting down."""
        if not self._closing:
            super().publish_status()

    def log_fault(self) -> None:
        """Log and publish a new fault, unless the node is shutting down."""
        if not self._closing:
            super().log_fault()

    def fill_status(self, msg: BridgeStatus) -> None:
        """Real-time clock, no gantry."""
        msg.clock_mode = BridgeStatus.CLOCK_MODE_REALTIME
        msg.gantry_engaged = False
        msg.real_time_factor = 1.0
        msg.pelvis_height = self.pelvis_height

    def _publish_state(self) -> None:
        with self.lock:
            snap = self.latest
        age = time.monotonic() - snap.time if snap is not None else np.inf
        if age > self.params["lowstate_timeout"]:
            return  # nothing fresh from the robot: no RobotState (the policy sees the gap)
        # stamped when the LowState arrived (RobotState: the sampling instant), not when the timer fires, so a
        # LowState published twice carries the same stamp and timer jitter is not read as motion
        if self._stamped is None or self._stamped[0] != snap.time:
            self._stamped = (snap.time, (self.get_clock().now() - Duration(nanoseconds=int(age * 1e9))).to_msg())
        stamp = self._stamped[1]
        self.publish_state(stamp, snap, privileged=False)
        self.sequence += 1
        try:
            estimate = self._odometry.update(snap.time, snap.q, snap.imu_quat_wxyz)
        except ValueError as exc:  # a bad LowState damps through the LowCmd thread; the odometry just waits
            self.get_logger().warning(f"no odometry: {exc}", throttle_duration_sec=1.0)
        else:
            self.publish_odometry(stamp, *messages.estimate_pose_twist(estimate, snap.gyro))
        if up.remote_linked(snap.remote):
            axes, buttons = up.joy_axes_buttons(up.parse_remote(snap.remote))
            joy = Joy(axes=axes, buttons=buttons)
            joy.header.stamp = stamp
            self.joy_pub.publish(joy)


def usage() -> str:
    """The --help text: how to run the node and every parameter with its default."""
    return usage_text(__doc__, command_line("unitree_bridge"), PARAMETERS)


def main(args: list[str] | None = None) -> None:
    """Entry point: ros2 run g1_bridge unitree_bridge --ros-args -p network_interface:=eth0 ..."""
    run_bridge("unitree_bridge", usage, UnitreeBridge, args)


if __name__ == "__main__":
    main()
