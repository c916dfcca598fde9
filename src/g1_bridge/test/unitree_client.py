"""Test side of the real-robot bridge: start unitree_sim and unitree_bridge as processes, watch the wire.

:class:`WireMonitor` is an independent Cyclone DDS observer in the test process: it records every ``rt/lowcmd``
(checked with this package's CRC *and* the SDK's), the arrival of every ``rt/lowstate`` and the simulator's
ground truth (``rt/sim/truth``).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time

import numpy as np

from bringup_config import CONFIG
from g1_bridge import unitree_protocol as up

DOMAIN = int(os.environ.get("UNITREE_TEST_DOMAIN", "1"))  # Cyclone DDS domain of these tests, on lo
MODE_MACHINE = 5


def start_sim(*args: str) -> subprocess.Popen:
    """Run the simulated G1 (`python -m g1_bridge.unitree_sim`) on lo in the test domain."""
    return subprocess.Popen([sys.executable, "-m", "g1_bridge.unitree_sim", "--domain", str(DOMAIN),
                             "--interface", "lo", "--report-every", "0", "--mode-machine", str(MODE_MACHINE), *args])


def start_bridge(code: str = "", **params) -> subprocess.Popen:
    """Run `python -m g1_bridge.unitree_bridge` with config/unitree_bridge.yaml, pointed at the simulated G1.

    ``code``: run ``python -c code`` instead (a fault injected into the bridge before its ``main()``).
    """
    params = {"network_interface": "lo", "dds_domain": DOMAIN, "release_motion_service": False, **params}
    args = [sys.executable, *(("-c", code) if code else ("-m", "g1_bridge.unitree_bridge")), "--ros-args",
            "--params-file", str(CONFIG / "unitree_bridge.yaml")]
    for key, value in params.items():
        args += ["-p", f"{key}:={str(value).lower() if isinstance(value, bool) else value}"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(process: subprocess.Popen, sig=subprocess.signal.SIGINT, timeout: float = 15.0) -> int:
    """Signal a process and wait for it; returns its exit code (killed after ``timeout``)."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@dataclasses.dataclass
class LowCmdSample:
    """One LowCmd seen on the wire."""

    time: float
    record: np.ndarray
    crc_ok: bool       # this package's CRC
    sdk_crc_ok: bool   # unitree_sdk2py's CRC
    finite: bool

    @property
    def damping(self) -> bool:
        """kp = 0 and kd > 0 on every driven motor."""
        motors = self.record["motor_cmd"][:29]
        return bool(np.all(motors["kp"] == 0) and np.all(motors["kd"] > 0) and np.all(motors["mode"] == 1))


class WireMonitor:
    """Records rt/lowcmd, rt/lowstate arrivals and rt/sim/truth (call unitree_sim.init_channels first)."""

    def __init__(self) -> None:
        """Subscribe to the three topics."""
        from unitree_sdk2py.core.channel import ChannelSubscriber
        from unitree_sdk2py.idl.unitree_hg.msg.dds_ import LowCmd_, LowState_
        from unitree_sdk2py.utils.crc import CRC

        from g1_bridge.unitree_sim import TRUTH_TOPIC, SimTruth_

        self._sdk_crc = CRC()
        self.lock = threading.Lock()
        self.lowcmd: list[LowCmdSample] = []
        self.lowstate_times: list[float] = []
        self.truth: list = []
        self._subs = [ChannelSubscriber(up.LOWCMD_TOPIC, LowCmd_), ChannelSubscriber(up.LOWSTATE_TOPIC, LowState_),
                      ChannelSubscriber(TRUTH_TOPIC, SimTruth_)]
        for sub, handler in zip(self._subs, (self._on_lowcmd, self._on_lowstate, self._on_truth)):
            sub.Init(handler, 0)

    def _on_lowcmd(self, msg) -> None:
        now = time.monotonic()
        rec = up.lowcmd_record(msg)
        finite = all(bool(np.all(np.isfinite(rec["motor_cmd"][k]))) for k in ("q", "dq", "tau", "kp", "kd"))
        sample = LowCmdSample(now, rec, up.record_crc(rec) == msg.crc, self._sdk_crc.Crc(msg) == msg.crc, finite)
        with self.lock:
            self.lowcmd.append(sample)

    def _on_lowstate(self, _msg) -> None:
        with self.lock:
            self.lowstate_times.append(time.monotonic())

    def _on_truth(self, msg) -> None:
        with self.lock:
            self.truth.append(msg)

    def close(self) -> None:
        """Stop listening (the readers deleted now, on this thread: unitree_sim.close_channels)."""
        from g1_bridge.unitree_sim import close_channels

        close_channels(self._subs)

    def commands(self, since: float = 0.0) -> list[LowCmdSample]:
        """LowCmd samples received at or after ``since``."""
        with self.lock:
            return [s for s in self.lowcmd if s.time >= since]

    def latest_truth(self):
        """The latest ground truth (None before the first)."""
        with self.lock:
            return self.truth[-1] if self.truth else None


def wait_for(condition, timeout: float, step: float = 0.01) -> bool:
    """Poll ``condition()`` until true or timeout (for conditions fed by DDS listener threads)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
