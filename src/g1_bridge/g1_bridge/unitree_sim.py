"""`unitree_sim`: a simulated G1 that speaks the robot's own low-level DDS protocol (no ROS).

Like the robot (and like Unitree's own MuJoCo simulator) it talks Cyclone DDS through ``unitree_sdk2py``, by
default in domain 1 on interface ``lo``:

* subscribes ``rt/lowcmd`` (``unitree_hg`` LowCmd_). A LowCmd whose CRC is wrong, whose ``mode_machine`` is not
  the robot's, or that holds a NaN/Inf for an enabled motor is dropped and counted, as the robot drops it.
  Otherwise it becomes the PD law of each motor: enabled (``mode`` 1) motors apply
  ``tau + kp (q - q_m) + kd (dq - dq_m)`` clipped to the effort limits, disabled ones no torque.
  The law is evaluated at **every physics step** (``twist_core.sim.G1Sim``, the same physics as the MuJoCo
  bridge) from the latest accepted LowCmd.
* publishes ``rt/lowstate`` (LowState_) at ``--lowstate-rate`` (500 Hz, as the robot): joints of motors 0-28,
  the pelvis IMU (quaternion w, x, y, z; gyroscope; accelerometer; rpy), ``mode_machine``, a millisecond
  ``tick``, the injected wireless-remote bytes, plausible temperatures and voltages, and a correct CRC.
* takes test inputs on ``rt/sim/control`` (:class:`SimControl_`): the 40 wireless-remote bytes to report from
  now on, the virtual gantry (the rack the robot hangs on; engaged at start unless ``--gantry off``), and a
  LowState fault to inject (:data:`FAULTS`: wrong CRCs, a zero or non-unit IMU quaternion);
* with ``--motion-service NAME``, answers the robot's MotionSwitcher service (``motion_switcher``: CheckMode reports
  NAME as the active mode until ReleaseMode; ``--motion-service-stays``: ReleaseMode has no effect, as a motion
  service that will not let go);
* publishes the ground truth on ``rt/sim/truth`` (:class:`SimTruth_`, 50 Hz): pelvis pose and the LowCmd counters.

Command line::

    python -m g1_bridge.unitree_sim [--domain 1] [--interface lo] [--gantry on|off] [--duration S]
        [--mode-machine 5] [--motion-service ai_sport [--motion-service-stays]]
    python -m g1_bridge.unitree_sim press start|A|B|select|... [--hold 0.3]   # press remote buttons
    python -m g1_bridge.unitree_sim gantry off                                # lower the robot to the floor
    python -m g1_bridge.unitree_sim fault crc|crc_some|imu_zero|imu_scaled|none  # corrupt LowState from now on
    python -m g1_bridge.unitree_sim remote off|on                             # the remote's link lost / back
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
import time
from typing import Iterable, Sequence

import numpy as np

from g1_bridge import unitree_protocol as up
from twist_core import rotations
from twist_core.robot import RobotSpec, load_robot_spec
from twist_core.safety import JointTargets, zero_torque_targets
from twist_core.sim import G1Sim

try:
    from g1_bridge.unitree_sim_types import SimControl_, SimTruth_
except ImportError:  # pragma: no cover - reported by main()
    SimControl_ = SimTruth_ = None

CONTROL_TOPIC = "rt/sim/control"
TRUTH_TOPIC = "rt/sim/truth"
GANTRY_UNCHANGED, GANTRY_RELEASE, GANTRY_ENGAGE = -1, 0, 1
DEFAULT_MODE_MACHINE = 5  # what the simulated robot reports; the bridge must echo it
MOTOR_TEMPERATURE = 35    # degC, reported for every motor
MOTOR_VOLTAGE = 50.0      # V, reported for every motor (a charged battery)
#: LowState faults the simulated G1 can inject (SimControl_.lowstate_fault).
FAULTS = {"none": 0, "crc": 1, "crc_some": 2, "imu_zero": 3, "imu_scaled": 4}


def init_channels(domain: int, interface: str) -> None:
    """``ChannelFactoryInitialize`` once per process (the SDK keeps one participant per process)."""
    from unitree_sdk2py.core.channel import ChannelFactoryInitialize

    ChannelFactoryInitialize(domain, interface)


def close_channels(channels: Iterable) -> None:
    """Close unitree_sdk2py publishers/subscribers and free their Cyclone entities at once, on this thread.

    Their readers and writers carry listeners and sit in reference cycles: left to the garbage collector they are
    deleted whenever a collection runs, possibly inside a Cyclone listener callback on another thread, where
    deleting an entity deadlocks (seen: a test process hanging in ``ChannelSubscriber.Close``) or, at interpreter
    exit, crashes (a pytest process ending with SIGSEGV after all its tests passed).
    """
    import gc

    for channel in channels:
        channel.Close()
    gc.collect()


def lowcmd_targets(spec: RobotSpec, rec: np.ndarray) -> JointTargets:
    """The PD law of motors 0..28 from a LowCmd record: disabled motors get no torque."""
    motors = rec["motor_cmd"][:spec.num_joints]
    enabled = (motors["mode"] == up.MOTOR_MODE_ENABLED).astype(np.float64)
    column = {name: motors[name].astype(np.float64) for name in ("q", "dq", "tau", "kp", "kd")}
    return JointTargets(position=column["q"] * enabled, velocity=column["dq"] * enabled,
                        kp=column["kp"] * enabled, kd=column["kd"] * enabled, effort=column["tau"] * enabled)


class UnitreeSim:
    """The simulated G1 on DDS; see the module docstring."""

    def __init__(self, spec: RobotSpec, physics_rate: float = 500.0, lowstate_rate: float = 500.0,
                 mode_machine: int = DEFAULT_MODE_MACHINE, gantry: bool = True) -> None:
        """Build the physics and the DDS endpoints (call :func:`init_channels` first)."""
        from unitree_sdk2py.core.channel import ChannelPublisher, ChannelSubscriber
        from unitree_sdk2py.idl.default import unitree_hg_msg_dds__LowState_
        from unitree_sdk2py.idl.unitree_hg.msg.dds_ import LowCmd_, LowState_

        decimation = physics_rate / lowstate_rate
        if lowstate_rate <= 0 or abs(decimation - round(decimation)) > 1e-9:
            raise ValueError(f"physics rate {physics_rate} must be a multiple of the lowstate rate {lowstate_rate}")
        self.spec = spec
        self.physics_rate = physics_rate
        self.decimation = int(round(decimation))
        self.truth_decimation = max(1, int(round(physics_rate / 50.0)))
        self.mode_machine = mode_machine
        self.sim = G1Sim(spec, physics_rate)
        self.sim.set_gantry(gantry)
        self.lock = threading.Lock()
        self.targets = zero_torque_targets(spec)
        self.remote = up.remote_bytes()
        self.fault = FAULTS["none"]
        self.counters = dict.fromkeys(("lowcmd_received", "lowcmd_applied", "lowcmd_crc_errors",
                                       "lowcmd_wrong_mode_machine", "lowcmd_non_finite", "lowstate_sent"), 0)
        self.real_time_factor = 0.0
        self.stop_event = threading.Event()
        self._record = np.zeros((), dtype=up.LOWSTATE_DTYPE)
        self._record["mode_machine"] = mode_machine
        self._record["motor_state"]["temperature"] = MOTOR_TEMPERATURE
        self._record["motor_state"]["vol"] = MOTOR_VOLTAGE
        self._record["motor_state"]["mode"][:spec.num_joints] = up.MOTOR_MODE_ENABLED
        self._record["imu_state"]["temperature"] = MOTOR_TEMPERATURE
        self._lowstate = unitree_hg_msg_dds__LowState_()
        self._lowstate_pub = ChannelPublisher(up.LOWSTATE_TOPIC, LowState_)
        self._lowstate_pub.Init()
        self._truth_pub = ChannelPublisher(TRUTH_TOPIC, SimTruth_)
        self._truth_pub.Init()
        self._lowcmd_sub = ChannelSubscriber(up.LOWCMD_TOPIC, LowCmd_)
        self._lowcmd_sub.Init(self._on_lowcmd, 0)
        self._control_sub = ChannelSubscriber(CONTROL_TOPIC, SimControl_)
        self._control_sub.Init(self._on_control, 0)

    # -- inputs (DDS listener threads) -------------------------------------------------------------------
    def _on_lowcmd(self, msg) -> None:
        rec = up.lowcmd_record(msg)
        with self.lock:
            self.counters["lowcmd_received"] += 1
            if up.record_crc(rec) != int(rec["crc"]):
                self.counters["lowcmd_crc_errors"] += 1
                return
            if int(rec["mode_machine"]) != self.mode_machine:
                self.counters["lowcmd_wrong_mode_machine"] += 1
                return
            targets = lowcmd_targets(self.spec, rec)
            if not all(np.all(np.isfinite(getattr(targets, f.name))) for f in dataclasses.fields(targets)):
                self.counters["lowcmd_non_finite"] += 1
                return
            self.targets = targets
            self.counters["lowcmd_applied"] += 1

    def _on_control(self, msg) -> None:
        with self.lock:
            self.remote = list(msg.wireless_remote)
            self.fault = int(msg.lowstate_fault)
            gantry = int(msg.gantry)
        if gantry in (GANTRY_RELEASE, GANTRY_ENGAGE):
            with self.lock:
                self.sim.set_gantry(gantry == GANTRY_ENGAGE)

    # -- the physics loop ------------------------------------------------------------------------------------
    def run(self, duration: float | None = None, report_every: float = 5.0) -> None:
        """Step in real time until :attr:`stop_event` is set or ``duration`` wall seconds passed."""
        dt = 1.0 / self.physics_rate
        start = next_step = time.monotonic()
        mark = (start, self.sim.time)
        last_report = start
        steps = 0
        while not self.stop_event.is_set() and (duration is None or time.monotonic() - start < duration):
            with self.lock:
                self.sim.set_targets(self.targets)
                self.sim.step(1)
            steps += 1
            if steps % self.decimation == 0:
                self._publish_lowstate()
            if steps % self.truth_decimation == 0:
                now = time.monotonic()
                if now - mark[0] >= 0.5:
                    self.real_time_factor = (self.sim.time - mark[1]) / (now - mark[0])
                    mark = (now, self.sim.time)
                self._publish_truth()
            next_step += dt
            delay = next_step - time.monotonic()
            if delay > 0:
                self.stop_event.wait(delay)
            elif delay < -0.1:  # fell behind (a loaded machine): do not try to catch up
                next_step = time.monotonic()
            if report_every and time.monotonic() - last_report >= report_every:
                last_report = time.monotonic()
                print(self.describe(), flush=True)

    def describe(self) -> str:
        """One status line."""
        with self.lock:
            c = dict(self.counters)
            height = float(self.sim.data.qpos[2])
        return (f"unitree_sim: t={self.sim.time:.1f} s rtf={self.real_time_factor:.2f} pelvis z={height:.3f} m "
                f"gantry={'on' if self.sim.gantry_engaged else 'off'} lowcmd received={c['lowcmd_received']} "
                f"applied={c['lowcmd_applied']} crc_errors={c['lowcmd_crc_errors']} "
                f"wrong_mode_machine={c['lowcmd_wrong_mode_machine']} non_finite={c['lowcmd_non_finite']} "
                f"lowstate sent={c['lowstate_sent']}")

    def _publish_lowstate(self) -> None:
        state = self.sim.state()
        rec = self._record
        n = self.spec.num_joints
        motors = rec["motor_state"]
        motors["q"][:n] = state.q
        motors["dq"][:n] = state.dq
        motors["tau_est"][:n] = state.tau
        imu = rec["imu_state"]
        with self.lock:
            rec["wireless_remote"] = self.remote
            fault = self.fault
        scale = {FAULTS["imu_zero"]: 0.0, FAULTS["imu_scaled"]: 0.5}.get(fault, 1.0)
        imu["quaternion"] = scale * state.imu_quat_wxyz
        imu["gyroscope"] = state.gyro
        imu["accelerometer"] = state.accel
        imu["rpy"] = rotations.roll_pitch_yaw(state.imu_quat_wxyz)
        rec["tick"] = int(round(state.time * 1000.0)) & 0xFFFFFFFF
        rec["crc"] = up.record_crc(rec)
        sent = self.counters["lowstate_sent"]
        if fault == FAULTS["crc"] or (fault == FAULTS["crc_some"] and sent % 10 == 0):
            rec["crc"] = int(rec["crc"]) ^ 0x1  # a corrupted frame
        up.fill_lowstate(self._lowstate, rec)
        self._lowstate_pub.Write(self._lowstate)
        with self.lock:
            self.counters["lowstate_sent"] += 1

    def _publish_truth(self) -> None:
        with self.lock:
            counters = dict(self.counters)
            pos = self.sim.data.qpos[:3].tolist()
            quat = self.sim.data.qpos[3:7].tolist()
            gantry = self.sim.gantry_engaged
        self._truth_pub.Write(SimTruth_(time=self.sim.time, base_pos=pos, base_quat_wxyz=quat,
                                        gantry_engaged=int(gantry), mode_machine=self.mode_machine,
                                        real_time_factor=self.real_time_factor, **counters))


class SimMotionService:
    """The robot's MotionSwitcher service (``motion_switcher``): CheckMode reports ``mode`` until ReleaseMode.

    ``stays``: ReleaseMode answers success but the mode stays active (a motion service that will not let go).
    """

    def __init__(self, mode: str, stays: bool = False) -> None:
        """Start serving (call :func:`init_channels` first)."""
        import json

        from unitree_sdk2py.comm.motion_switcher import motion_switcher_api as api
        from unitree_sdk2py.rpc.server import Server

        self.mode, self.stays, self.releases = mode, stays, 0
        service = self

        class _Server(Server):
            def Init(self) -> None:  # noqa: N802 - the SDK's interface
                self._SetApiVersion(api.MOTION_SWITCHER_API_VERSION)
                self._RegistHandler(api.MOTION_SWITCHER_API_ID_CHECK_MODE,
                                    lambda _: (0, json.dumps({"name": service.mode, "form": "0"})), False)
                self._RegistHandler(api.MOTION_SWITCHER_API_ID_RELEASE_MODE, lambda _: service.release(), False)

        self._server = _Server(api.MOTION_SWITCHER_SERVICE_NAME)
        self._server.Init()
        self._server.Start(False)

    def release(self) -> tuple[int, str]:
        """ReleaseMode: no mode active from now on, unless the service stays."""
        self.releases += 1
        if not self.stays:
            self.mode = ""
        return 0, ""


class SimOperator:
    """Drives a running ``unitree_sim`` over ``rt/sim/control``: remote buttons and the gantry.

    The control message is republished at 50 Hz from a thread (like a real remote reporting continuously), so a
    press is seen even by a subscriber that matched late.
    """

    def __init__(self, rate: float = 50.0) -> None:
        """Create the writer (call :func:`init_channels` first) and start publishing an idle remote."""
        from unitree_sdk2py.core.channel import ChannelPublisher

        self._pub = ChannelPublisher(CONTROL_TOPIC, SimControl_)
        self._pub.Init()
        self._lock = threading.Lock()
        self._remote = up.remote_bytes()
        self._gantry = GANTRY_UNCHANGED
        self._fault = FAULTS["none"]
        self._period = 1.0 / rate
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sim_operator", daemon=True)
        self._thread.start()

    def hold(self, buttons: Iterable[str] = (), **sticks: float) -> None:
        """Report ``buttons`` as held and the sticks at ``sticks`` from now on (an empty set releases the buttons).

        ``sticks``: ``lx``, ``ly``, ``rx``, ``ry``, ``l2`` in [-1, 1]; 0 when not given.
        """
        with self._lock:
            self._remote = up.remote_bytes(buttons, **sticks)

    def press(self, buttons: Sequence[str], hold: float = 0.2) -> None:
        """Hold ``buttons`` for ``hold`` seconds, then release them."""
        self.hold(buttons)
        time.sleep(hold)
        self.hold(())

    def gantry(self, engaged: bool) -> None:
        """Engage or release the virtual gantry."""
        with self._lock:
            self._gantry = GANTRY_ENGAGE if engaged else GANTRY_RELEASE

    def fault(self, name: str) -> None:
        """Inject the LowState fault ``name`` (a key of :data:`FAULTS`; "none" ends it)."""
        with self._lock:
            self._fault = FAULTS[name]

    def link(self, linked: bool) -> None:
        """The remote's link: False reports 40 zero bytes (no remote), True an idle linked remote."""
        with self._lock:
            self._remote = up.remote_bytes(linked=linked)

    def close(self) -> None:
        """Stop publishing and delete the writer now, on this thread (see :func:`close_channels`)."""
        self._stop.set()
        self._thread.join(timeout=2.0)
        close_channels([self._pub])

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                msg = SimControl_(wireless_remote=list(self._remote), gantry=self._gantry, lowstate_fault=self._fault)
            self._pub.Write(msg)
            self._stop.wait(self._period)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unitree-sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domain", type=int, default=1, help="DDS domain (default 1, as Unitree's simulator)")
    parser.add_argument("--interface", default="lo", help="network interface (default lo)")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the simulated robot (the default)")
    for p in (parser, run):
        p.add_argument("--physics-rate", type=float, default=500.0, help="physics steps per second")
        p.add_argument("--lowstate-rate", type=float, default=500.0, help="rt/lowstate messages per second")
        p.add_argument("--mode-machine", type=int, default=DEFAULT_MODE_MACHINE, help="reported mode_machine")
        p.add_argument("--gantry", choices=("on", "off"), default="on", help="start hanging on the gantry")
        p.add_argument("--duration", type=float, default=None, help="stop after this many wall seconds")
        p.add_argument("--report-every", type=float, default=5.0, help="seconds between status lines (0: none)")
        p.add_argument("--motion-service", default="",
                       help="serve MotionSwitcher with this mode active (e.g. ai_sport)")
        p.add_argument("--motion-service-stays", action="store_true", help="ReleaseMode leaves the mode active")
    press = sub.add_parser("press", help="press wireless-remote buttons on a running unitree_sim")
    press.add_argument("buttons", nargs="+", choices=up.BUTTONS)
    press.add_argument("--hold", type=float, default=0.3, help="seconds to hold them")
    gantry = sub.add_parser("gantry", help="engage or release the gantry of a running unitree_sim")
    gantry.add_argument("state", choices=("on", "off"))
    fault = sub.add_parser("fault", help="inject a LowState fault into a running unitree_sim (none: end it)")
    fault.add_argument("name", choices=tuple(FAULTS))
    remote = sub.add_parser("remote", help="the wireless remote's link of a running unitree_sim: off (lost) or on")
    remote.add_argument("state", choices=("on", "off"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    args = _parser().parse_args(argv)
    if SimControl_ is None:
        print("unitree_sim: the cyclonedds Python binding is not installed (make setup installs it)", file=sys.stderr)
        return 1
    init_channels(args.domain, args.interface)
    if args.command in ("press", "gantry", "fault", "remote"):
        operator = SimOperator()
        time.sleep(0.5)  # let the simulator's reader match (the message is republished at 50 Hz meanwhile)
        if args.command == "press":
            operator.press(args.buttons, args.hold)
        elif args.command == "gantry":
            operator.gantry(args.state == "on")
        elif args.command == "fault":
            operator.fault(args.name)
        else:
            operator.link(args.state == "on")
        time.sleep(0.2)
        operator.close()
        return 0
    sim = UnitreeSim(load_robot_spec(), args.physics_rate, args.lowstate_rate, args.mode_machine, args.gantry == "on")
    service = SimMotionService(args.motion_service, args.motion_service_stays) if args.motion_service else None
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sim.stop_event.set())
    print(f"unitree_sim: simulated G1 on domain {args.domain}, interface {args.interface}: physics "
          f"{args.physics_rate:.0f} Hz, rt/lowstate {args.lowstate_rate:.0f} Hz, mode_machine {args.mode_machine}, "
          f"gantry {args.gantry}" + (f", motion service {service.mode!r}" + (" (stays)" if service.stays else "")
                                     if service else ""), flush=True)
    sim.run(args.duration, args.report_every)
    print(sim.describe(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
