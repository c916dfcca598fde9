"""Watching and driving the closed loop from outside: what `make demo`, the benchmark and the end-to-end tests use.

:class:`LoopMonitor` is an rclpy node that records every ``robot_state``, ``joint_command``, ``motion_reference``,
``odom``, ``bridge_status`` and the policy node's ``/diagnostics`` (with the wall time each arrived), publishes
``cmd_vel`` and the simulation's pushes, and calls the bridge's services (``start``, ``go``, ``damp``, ``reset``,
``gantry``). The metrics:

- achieved velocity: from ``/odom`` (the bridge's pelvis pose), the displacement over a window (1 s) rotated into
  the heading frame, and the heading change over it (yaw rate);
- joint tracking error: RMS over the 23 policy joints of reference joint positions (the latest reference received
  before the state) minus measured ones;
- key-body error: mean distance between the reference's key bodies and the measured ones (forward kinematics of
  the measured joints), both relative to the pelvis in its heading frame (roll and pitch included, yaw not);
- loop latency state -> command: receive time of the JointCommand whose ``state_sequence`` is k minus the receive
  time of RobotState k, both taken in this process (the policy node's own figures are in its diagnostics);
- rates and the real-time factor from receive times and stamps; falls from the bridge's faults (TILT, HEIGHT) or
  the pelvis below ``FALL_HEIGHT``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Any, Callable, Iterator

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist, Vector3
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_srvs.srv import SetBool, Trigger
from twist_msgs.msg import BridgeStatus, JointCommand, MotionReference, RobotState
from twist_msgs.srv import Reset

from twist_core import rotations
from twist_core.model import key_body_positions
from twist_core.robot import RobotSpec
from twist_core.safety import Fault, Mode
from twist_node_common.qos import STATUS_QOS

RECORD_QOS = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
FALL_HEIGHT = 0.5  # m, pelvis height below which the robot has fallen
FALL_FAULTS = (Fault.TILT, Fault.HEIGHT)


def _seconds(stamp) -> float:
    return stamp.sec + 1e-9 * stamp.nanosec


@dataclasses.dataclass(frozen=True)
class MissedTicks:
    """The control ticks that passed without a new command."""

    count: int
    longest_gap: float  # [s] between two commands; NaN with fewer than two
    late: tuple[tuple[float, float], ...]  # each late command: (its arrival [s], its gap [s]), arrivals' clock


def missed_ticks(arrivals: np.ndarray, period: float) -> MissedTicks:
    """Control ticks without a new command, the longest gap [s] between commands, and each late command.

    ``arrivals``: receive times (s, ascending) of commands expected every ``period`` s; a gap longer than 1.5
    periods misses ``round(gap / period) - 1`` ticks (a gap of 3 periods missed 2).
    """
    if len(arrivals) < 2:
        return MissedTicks(0, float("nan"), ())
    gaps = np.diff(arrivals)
    late = np.flatnonzero(gaps > 1.5 * period)
    return MissedTicks(int(np.sum(np.round(gaps[late] / period) - 1)), float(gaps.max()),
                       tuple((float(arrivals[i + 1]), float(gaps[i])) for i in late))


def body_velocity(odom: np.ndarray, end: float | None = None, window: float = 1.0) -> np.ndarray:
    """Mean (vx, vy, yaw rate) in the heading frame over the ``window`` seconds (stamps) before ``end``.

    ``odom`` rows are (stamp, x, y, heading); ``end`` defaults to the last stamp. Each step between two samples is
    turned into the heading at its middle, so a curved path counts its length along the body (walking 0.5 m/s
    while turning scores 0.5 m/s, not the chord of the arc). NaN where the window holds under half its length.
    """
    if len(odom) < 2:
        return np.full(3, np.nan)
    end = odom[-1, 0] if end is None else end
    inside = odom[(odom[:, 0] <= end + 1e-9) & (odom[:, 0] >= end - window - 1e-9)]
    if len(inside) < 2 or inside[-1, 0] - inside[0, 0] < 0.5 * window:
        return np.full(3, np.nan)
    span = inside[-1, 0] - inside[0, 0]
    yaw = np.unwrap(inside[:, 3])
    heading = 0.5 * (yaw[1:] + yaw[:-1])
    dx, dy = np.diff(inside[:, 1]), np.diff(inside[:, 2])
    c, s = np.cos(heading), np.sin(heading)
    return np.array([np.sum(c * dx + s * dy), np.sum(-s * dx + c * dy), yaw[-1] - yaw[0]]) / span


@dataclasses.dataclass
class StateSample:
    """What the monitor keeps of one RobotState."""

    wall: float
    stamp: float
    sequence: int
    mode: int
    q: np.ndarray
    height: float
    reference_q: np.ndarray | None  # the latest reference's joints when the state arrived
    base_quat: np.ndarray | None = None  # measured pelvis orientation (w, x, y, z)
    reference_keys: np.ndarray | None = None  # the latest reference's key bodies (K, 3), pelvis heading frame
    base_xy: np.ndarray | None = None  # measured pelvis position (x, y) (simulation)
    reference_xy: np.ndarray | None = None  # the latest reference's pelvis position (x, y)
    reference_source: int | None = None  # the latest reference's source (MotionReference.SOURCE_*)


def heading_frame(quat_wxyz: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Points ``local`` (..., 3) of a pelvis frame with orientation ``quat_wxyz`` in that pelvis' heading frame.

    The heading frame is the pelvis frame with roll and pitch undone (yaw kept).
    """
    quat = np.asarray(quat_wxyz, dtype=np.float64)
    tilt = rotations.multiply(rotations.from_yaw(-rotations.yaw(quat)), quat)
    return rotations.rotate(np.broadcast_to(tilt, np.shape(local)[:-1] + (4,)), local)


class LoopMonitor(Node):
    """Records the loop and drives the bridge; see the module docstring."""

    def __init__(self, spec: RobotSpec, bridge: str = "mujoco_bridge", name: str = "loop_monitor") -> None:
        """Subscribe to everything, publish cmd_vel, create the bridge's service clients."""
        super().__init__(name)
        self.spec = spec
        self.policy_indices = np.asarray(spec.policy_indices)
        self.states: list[StateSample] = []
        self.state_wall: dict[int, tuple[float, float]] = {}  # sequence -> (wall, stamp)
        self.latencies: list[tuple[float, float]] = []  # (state stamp, seconds)
        self.commands: list[tuple[float, JointCommand]] = []
        self.references: list[tuple[float, float, np.ndarray]] = []  # (wall, root vx, joints)
        self.reference_velocity: list[tuple[float, float, float, float]] = []  # (wall, vx, vy, wz)
        self.odom: list[tuple[float, float, float, float]] = []  # (stamp, x, y, yaw)
        self.status: BridgeStatus | None = None
        self.statuses: list[BridgeStatus] = []
        self.run_ended: float | None = None  # sim time at which graph_session ended the run (before it damps)
        self.diagnostics: dict[str, str] = {}
        self._latest_reference: np.ndarray | None = None
        self._latest_keys: np.ndarray | None = None
        self._latest_root: tuple[np.ndarray, int] | None = None  # the latest valid reference's (x, y), source
        self.cmd_vel_pub = self.create_publisher(Twist, "cmd_vel", 10)
        self.push_pub = self.create_publisher(Vector3, f"/{bridge}/push", 10)
        self.create_subscription(RobotState, "robot_state", self._on_state, RECORD_QOS)
        self.create_subscription(JointCommand, "joint_command", self._on_command, RECORD_QOS)
        self.create_subscription(MotionReference, "motion_reference", self._on_reference, RECORD_QOS)
        self.create_subscription(Odometry, "odom", self._on_odom, RECORD_QOS)
        self.create_subscription(BridgeStatus, "bridge_status", self._on_status, STATUS_QOS)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.triggers = {n: self.create_client(Trigger, f"/{bridge}/{n}") for n in ("start", "go", "damp")}
        self.gantry_client = self.create_client(SetBool, f"/{bridge}/gantry")
        self.reset_client = self.create_client(Reset, f"/{bridge}/reset")

    def clear(self, drain: float = 0.5) -> None:
        """Forget everything recorded (between runs), after ``drain`` seconds of taking in what is still queued."""
        self.spin_for(drain)
        for buffer in (self.states, self.latencies, self.commands, self.references, self.reference_velocity,
                       self.odom, self.statuses):
            buffer.clear()
        self.state_wall.clear()
        self.run_ended = None
        self.status, self.diagnostics, self._latest_reference, self._latest_keys = None, {}, None, None
        self._latest_root = None

    # -- recording ------------------------------------------------------------------------------------
    def _on_state(self, msg: RobotState) -> None:
        wall = time.monotonic()
        self.state_wall[msg.sequence] = (wall, _seconds(msg.header.stamp))
        q, p = msg.base_pose.orientation, msg.base_pose.position
        root, source = self._latest_root or (None, None)
        self.states.append(StateSample(wall, _seconds(msg.header.stamp), msg.sequence, msg.mode,
                                       np.asarray(msg.position), p.z, self._latest_reference,
                                       np.array([q.w, q.x, q.y, q.z]) if msg.privileged_valid else None,
                                       self._latest_keys, np.array([p.x, p.y]) if msg.privileged_valid else None,
                                       root, source))

    def _on_command(self, msg: JointCommand) -> None:
        wall = time.monotonic()
        self.commands.append((wall, msg))
        sent = self.state_wall.get(msg.state_sequence)
        if sent is not None:
            self.latencies.append((sent[1], wall - sent[0]))

    def _on_reference(self, msg: MotionReference) -> None:
        wall = time.monotonic()
        frame = msg.current
        joints = np.asarray(frame.joint_positions)
        if len(joints) == self.spec.num_joints and msg.valid:
            self._latest_reference = joints
            keys = np.array([[k.x, k.y, k.z] for k in frame.key_body_positions])
            q = frame.root_pose.orientation
            self._latest_keys = (heading_frame([q.w, q.x, q.y, q.z], keys)
                                 if keys.shape == (len(self.spec.key_bodies), 3) else None)
            self._latest_root = (np.array([frame.root_pose.position.x, frame.root_pose.position.y]), msg.source)
        self.references.append((wall, frame.root_linear_velocity.x, joints))
        self.reference_velocity.append((wall, frame.root_linear_velocity.x, frame.root_linear_velocity.y,
                                        frame.root_angular_velocity.z))

    def _on_odom(self, msg: Odometry) -> None:
        q = msg.pose.pose.orientation
        p = msg.pose.pose.position
        self.odom.append((_seconds(msg.header.stamp), p.x, p.y, float(rotations.yaw([q.w, q.x, q.y, q.z]))))

    def _on_status(self, msg: BridgeStatus) -> None:
        self.status = msg
        self.statuses.append(msg)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith("twist_policy"):
                self.diagnostics = {kv.key: kv.value for kv in status.values} | {"message": status.message}

    # -- driving --------------------------------------------------------------------------------------
    def spin_until(self, condition: Callable[[], Any], timeout: float) -> bool:
        """Spin until ``condition()`` is truthy or ``timeout`` wall seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            rclpy.spin_once(self, timeout_sec=0.01)
        return bool(condition())

    def spin_for(self, seconds: float) -> None:
        """Spin for ``seconds`` of wall time."""
        self.spin_until(lambda: False, seconds)

    def mode(self) -> int | None:
        """The bridge mode of the latest state."""
        return self.states[-1].mode if self.states else None

    def sim_time(self) -> float:
        """Stamp of the latest state."""
        return self.states[-1].stamp if self.states else 0.0

    def call(self, name: str, timeout: float = 20.0, request: Any = None):
        """Call a bridge service: ``start``, ``go``, ``damp`` (Trigger), ``gantry`` (SetBool), ``reset`` (Reset)."""
        client = {"gantry": self.gantry_client, "reset": self.reset_client}.get(name) or self.triggers[name]
        if not self.spin_until(client.service_is_ready, timeout):
            raise TimeoutError(f"service {name} is not available")
        if request is None:
            request = Trigger.Request() if name in self.triggers else Reset.Request()
        future = client.call_async(request)
        if not self.spin_until(future.done, timeout):
            raise TimeoutError(f"no answer from service {name}")
        return future.result()

    def send_velocity(self, vx: float, vy: float, wz: float) -> None:
        """Publish one cmd_vel."""
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.angular.z = float(vx), float(vy), float(wz)
        self.cmd_vel_pub.publish(msg)

    def push(self, vx: float, vy: float, vz: float = 0.0) -> None:
        """Push the simulated pelvis: add (vx, vy, vz) [m/s, world frame] to its velocity (the bridge's ~/push)."""
        self.push_pub.publish(Vector3(x=float(vx), y=float(vy), z=float(vz)))

    def start_and_go(self, timeout: float = 60.0, log: Callable[[str], None] = print,
                     reference: bool = True) -> None:
        """start (ramp to the default pose), wait for HOLD with the policy answering, then go (POLICY).

        ``reference`` (default): the graph has a reference publisher; go only once a valid reference reached this
        monitor (discovery can match its subscription seconds after the policy's), so that every state after go is
        recorded with its reference; False for a graph without one. Raises RuntimeError with the bridge's answer
        when a step fails.
        """
        if not self.spin_until(lambda: self.states, timeout):
            raise RuntimeError("no robot_state from the bridge")
        if self.mode() not in (Mode.HOLD, Mode.RAMP):
            response = self.call("start")
            log(f"start: {response.message}")
            if not response.success:
                raise RuntimeError(f"start refused: {response.message}")
        if not self.spin_until(lambda: self.mode() == Mode.HOLD, timeout):
            raise RuntimeError(f"the bridge never reached HOLD (mode {self.mode()})")
        answered = lambda: self.commands and self.commands[-1][1].state_sequence >= self.states[-1].sequence - 1  # noqa
        if not self.spin_until(answered, timeout):
            raise RuntimeError("the policy node does not answer the robot states")
        if reference and not self.spin_until(lambda: self._latest_reference is not None, timeout):
            raise RuntimeError("no valid motion_reference reached the monitor")
        for _ in range(20):
            response = self.call("go")
            if response.success:
                log(f"go: {response.message}")
                break
            self.spin_for(0.2)
        else:
            raise RuntimeError(f"go refused: {response.message}")
        if not self.spin_until(lambda: self.mode() == Mode.POLICY, 10.0):
            raise RuntimeError(f"the bridge did not enter POLICY (mode {self.mode()})")

    # -- metrics --------------------------------------------------------------------------------------
    def achieved_velocity(self, end: float | None = None, window: float = 1.0) -> np.ndarray:
        """(vx, vy, yaw rate) over the ``window`` seconds before ``end`` (default: the latest odom): body_velocity."""
        return body_velocity(np.array(self.odom), end, window)

    def tracking_error(self, samples: list[StateSample] | None = None) -> np.ndarray:
        """RMS joint tracking error [rad] over the policy joints, per state that had a reference."""
        samples = self.states if samples is None else samples
        return np.array([np.sqrt(np.mean((s.reference_q - s.q)[self.policy_indices] ** 2)) for s in samples
                         if s.reference_q is not None])

    def keybody_error(self, samples: list[StateSample] | None = None) -> np.ndarray:
        """Mean key-body distance [m] per state that had a reference with key bodies and a measured orientation."""
        samples = [s for s in (self.states if samples is None else samples)
                   if s.reference_keys is not None and s.base_quat is not None]
        if not samples:
            return np.zeros(0)
        origin = np.zeros((len(samples), 3))
        identity = np.tile([1.0, 0.0, 0.0, 0.0], (len(samples), 1))
        measured = key_body_positions(self.spec, origin, identity, np.array([s.q for s in samples]))
        measured = np.stack([heading_frame(s.base_quat, m) for s, m in zip(samples, measured)])
        reference = np.stack([s.reference_keys for s in samples])
        return np.linalg.norm(measured - reference, axis=-1).mean(axis=1)

    def root_drift(self, samples: list[StateSample] | None = None) -> np.ndarray:
        """Horizontal distance [m] of the measured pelvis from the reference's, per state that has both."""
        samples = [s for s in (self.states if samples is None else samples)
                   if s.base_xy is not None and s.reference_xy is not None]
        return np.array([np.linalg.norm(s.base_xy - s.reference_xy) for s in samples])

    def latency_ms(self, since_stamp: float = -np.inf) -> np.ndarray:
        """State -> command latencies [ms] of the states stamped after ``since_stamp``."""
        return np.array([dt * 1e3 for stamp, dt in self.latencies if stamp >= since_stamp])

    def missed_ticks(self, since_wall: float, period: float) -> MissedTicks:
        """:func:`missed_ticks` of the JointCommands received since the monotonic time ``since_wall``."""
        return missed_ticks(np.array([w for w, _ in self.commands if w >= since_wall]), period)

    def fell(self) -> tuple[bool, str]:
        """Whether the robot has fallen: a TILT/HEIGHT fault or the pelvis below FALL_HEIGHT; and how.

        Only until :attr:`run_ended` where set: a robot that sags once graph_session damps the bridge has not fallen.
        """
        until = np.inf if self.run_ended is None else self.run_ended
        faults = [s for s in self.statuses if s.fault in FALL_FAULTS and _seconds(s.header.stamp) <= until]
        if faults:
            return True, faults[0].fault_message
        low = [s for s in self.states if s.height < FALL_HEIGHT and s.stamp <= until]
        if low:
            return True, f"pelvis at {low[0].height:.2f} m at t={low[0].stamp:.2f} s"
        return False, ""

    def rates(self, window: float = 2.0) -> dict[str, float]:
        """Messages per wall second over the last ``window`` s, and the real-time factor."""
        now = time.monotonic()
        recent = [s for s in self.states if s.wall >= now - window]
        result = {"state_hz": len(recent) / window,
                  "command_hz": sum(1 for w, _ in self.commands if w >= now - window) / window,
                  "reference_hz": sum(1 for w, *_ in self.references if w >= now - window) / window}
        span = recent[-1].wall - recent[0].wall if len(recent) > 1 else 0.0
        result["rtf"] = (recent[-1].stamp - recent[0].stamp) / span if span > 0 else float("nan")
        return result


@contextlib.contextmanager
def graph_session(monitor: LoopMonitor, runner: Any, start_timeout: float = 120.0,
                  log: Callable[[str], None] = lambda _: None) -> Iterator[Any]:
    """A fresh graph driven from outside: start the nodes of ``runner`` (a GraphRunner), start and go; yield it.

    Afterwards the bridge is damped (while it runs; up to 5 s for DAMPING) and every node stopped, whatever
    happened in between (``runner.exited()`` then has every node's exit code). ``log`` gets the bridge's answers
    to start, go and damp.
    """
    monitor.clear()
    try:
        runner.start()
        monitor.start_and_go(timeout=start_timeout, log=log)
        yield runner
    finally:
        monitor.run_ended = monitor.sim_time()  # what follows is the session's own damping, not the run
        try:
            if runner.processes and "/mujoco_bridge" not in runner.exited():
                log(f"damp: {monitor.call('damp', timeout=5.0).message}")
                monitor.spin_until(lambda: monitor.mode() == Mode.DAMPING, 5.0)
        except Exception as exc:  # noqa: BLE001 - whatever happens, the nodes are stopped below
            log(f"could not damp: {exc}")
        runner.stop()


def mode_name(mode: int | None) -> str:
    """The bridge mode's name."""
    try:
        return Mode(mode).name
    except (ValueError, TypeError):
        return "-"


def percentiles(values, qs=(50, 99)) -> list[float]:
    """Percentiles of ``values`` (NaN when empty)."""
    values = np.asarray(values, dtype=np.float64)
    return [float(np.percentile(values, q)) if values.size else float("nan") for q in qs]
