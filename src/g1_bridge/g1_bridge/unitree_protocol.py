"""The G1's low-level DDS protocol (``unitree_hg`` LowCmd_/LowState_): byte layout, CRC, wireless remote.

Shared by the real-robot bridge (``unitree_bridge``) and the simulated G1 (``unitree_sim``). Importing this module
needs numpy only; the functions that touch ``unitree_sdk2py`` message objects take them as arguments.

Byte layout: the robot checks a CRC over the message as the C struct lays it out in memory (little-endian,
natural alignment, padding bytes zero), not over the DDS serialization. :data:`LOWCMD_DTYPE` and
:data:`LOWSTATE_DTYPE` are those structs as numpy record types (1004 and 2092 bytes).

CRC (:func:`crc32_words`): CRC-32 with polynomial 0x04C11DB7, initial value 0xFFFFFFFF, no final XOR, fed the
struct's 32-bit little-endian words, most significant bit first, every word before the ``crc`` field. That is
CRC-32/MPEG-2 over each word's bytes in big-endian order; it is computed here through zlib's reflected CRC-32
(``binascii.crc32``) on bit-reversed bytes, a few microseconds for a LowCmd, so it can run at 500 Hz.

Wireless remote: LowState carries the remote's 40 raw bytes: ``head[2]``, a 16-bit little-endian button field
(bit 0 R1, L1, start, select, R2, L2, F1, F2, A, B, X, Y, up, right, down, bit 15 left), then the floats lx, rx,
ry, L2 (analog) and ly. A block of 40 zero bytes is taken to mean that no remote reports (:func:`remote_linked`):
``unitree_sim`` marks a linked remote with non-zero header bytes (:data:`SIM_REMOTE_HEAD`); on a real G1 what an
unlinked remote reads is to be confirmed on the robot (a remote never seen linked is never reported lost).
"""

from __future__ import annotations

import binascii
import dataclasses
import struct
from typing import Iterable, Sequence

import numpy as np

LOWCMD_TOPIC = "rt/lowcmd"
LOWSTATE_TOPIC = "rt/lowstate"
NUM_MOTOR_SLOTS = 35  # motor entries in LowCmd_/LowState_; the G1 (29 DOF) uses the first 29
MOTOR_MODE_DISABLED = 0
MOTOR_MODE_ENABLED = 1  # servo mode: the motor applies tau + kp (q - q_m) + kd (dq - dq_m)

MOTOR_CMD_DTYPE = np.dtype({
    "names": ["mode", "q", "dq", "tau", "kp", "kd", "reserve"],
    "formats": ["u1", "<f4", "<f4", "<f4", "<f4", "<f4", "<u4"],
    "offsets": [0, 4, 8, 12, 16, 20, 24], "itemsize": 28})
LOWCMD_DTYPE = np.dtype({
    "names": ["mode_pr", "mode_machine", "motor_cmd", "reserve", "crc"],
    "formats": ["u1", "u1", (MOTOR_CMD_DTYPE, NUM_MOTOR_SLOTS), ("<u4", 4), "<u4"],
    "offsets": [0, 1, 4, 984, 1000], "itemsize": 1004})
IMU_STATE_DTYPE = np.dtype({
    "names": ["quaternion", "gyroscope", "accelerometer", "rpy", "temperature"],
    "formats": [("<f4", 4), ("<f4", 3), ("<f4", 3), ("<f4", 3), "<i2"],
    "offsets": [0, 16, 28, 40, 52], "itemsize": 56})
MOTOR_STATE_DTYPE = np.dtype({
    "names": ["mode", "q", "dq", "ddq", "tau_est", "temperature", "vol", "sensor", "motorstate", "reserve"],
    "formats": ["u1", "<f4", "<f4", "<f4", "<f4", ("<i2", 2), "<f4", ("<u4", 2), "<u4", ("<u4", 4)],
    "offsets": [0, 4, 8, 12, 16, 20, 24, 28, 36, 40], "itemsize": 56})
LOWSTATE_DTYPE = np.dtype({
    "names": ["version", "mode_pr", "mode_machine", "tick", "imu_state", "motor_state", "wireless_remote",
              "reserve", "crc"],
    "formats": [("<u4", 2), "u1", "u1", "<u4", IMU_STATE_DTYPE, (MOTOR_STATE_DTYPE, NUM_MOTOR_SLOTS),
                ("u1", 40), ("<u4", 4), "<u4"],
    "offsets": [0, 8, 9, 12, 16, 72, 2032, 2072, 2088], "itemsize": 2092})

_BIT_REVERSED = np.array([int(f"{b:08b}"[::-1], 2) for b in range(256)], dtype=np.uint8)


def _reflect32(value: int) -> int:
    return int(f"{value:032b}"[::-1], 2)


def crc32_words(words: np.ndarray) -> int:
    """CRC-32 (poly 0x04C11DB7, init 0xFFFFFFFF, no final XOR) of 32-bit words fed MSB first.

    The same as the bitwise definition: for each bit b of each word, most significant first,
    ``crc = (crc << 1) ^ (poly if (crc >> 31) ^ b else 0)``.
    """
    big_endian = np.ascontiguousarray(words, dtype="<u4").astype(">u4").view(np.uint8)
    reflected = binascii.crc32(_BIT_REVERSED[big_endian].tobytes(), 0) ^ 0xFFFFFFFF
    return _reflect32(reflected)


def record_crc(record: np.ndarray) -> int:
    """The CRC of a LowCmd/LowState record: over every 32-bit word before its trailing ``crc`` word."""
    words = np.frombuffer(record.tobytes(), dtype="<u4")
    return crc32_words(words[:-1])


# -- records <-> unitree_sdk2py messages ------------------------------------------------------------------
def lowcmd_record(msg) -> np.ndarray:
    """A LOWCMD_DTYPE record holding the fields of a ``unitree_hg`` LowCmd_ message."""
    rec = np.zeros((), dtype=LOWCMD_DTYPE)
    rec["mode_pr"], rec["mode_machine"] = msg.mode_pr, msg.mode_machine
    motors = rec["motor_cmd"]
    for name in MOTOR_CMD_DTYPE.names:
        motors[name] = [getattr(m, name) for m in msg.motor_cmd]
    rec["reserve"] = msg.reserve
    rec["crc"] = msg.crc
    return rec


def fill_lowcmd(msg, rec: np.ndarray) -> None:
    """Write a LOWCMD_DTYPE record into a ``unitree_hg`` LowCmd_ message (the crc field too)."""
    msg.mode_pr, msg.mode_machine = int(rec["mode_pr"]), int(rec["mode_machine"])
    columns = {name: rec["motor_cmd"][name].tolist() for name in MOTOR_CMD_DTYPE.names}
    for i, motor in enumerate(msg.motor_cmd):
        for name, values in columns.items():
            setattr(motor, name, values[i])
    msg.reserve = rec["reserve"].tolist()
    msg.crc = int(rec["crc"])


def lowstate_record(msg) -> np.ndarray:
    """A LOWSTATE_DTYPE record holding the fields of a ``unitree_hg`` LowState_ message."""
    rec = np.zeros((), dtype=LOWSTATE_DTYPE)
    rec["version"] = msg.version
    rec["mode_pr"], rec["mode_machine"], rec["tick"] = msg.mode_pr, msg.mode_machine, msg.tick
    imu = rec["imu_state"]
    for name in IMU_STATE_DTYPE.names:
        imu[name] = getattr(msg.imu_state, name)
    motors = rec["motor_state"]
    for name in MOTOR_STATE_DTYPE.names:
        motors[name] = [getattr(m, name) for m in msg.motor_state]
    remote = msg.wireless_remote  # the binding delivers uint8 arrays as bytes
    rec["wireless_remote"] = np.frombuffer(remote, np.uint8) if isinstance(remote, (bytes, bytearray)) else remote
    rec["reserve"] = msg.reserve
    rec["crc"] = msg.crc
    return rec


def fill_lowstate(msg, rec: np.ndarray) -> None:
    """Write a LOWSTATE_DTYPE record into a ``unitree_hg`` LowState_ message (the crc field too)."""
    msg.version = rec["version"].tolist()
    msg.mode_pr, msg.mode_machine, msg.tick = int(rec["mode_pr"]), int(rec["mode_machine"]), int(rec["tick"])
    for name in IMU_STATE_DTYPE.names:
        value = rec["imu_state"][name]
        setattr(msg.imu_state, name, value.tolist())
    columns = {name: rec["motor_state"][name].tolist() for name in MOTOR_STATE_DTYPE.names}
    for i, motor in enumerate(msg.motor_state):
        for name, values in columns.items():
            setattr(motor, name, values[i])
    msg.wireless_remote = rec["wireless_remote"].tolist()
    msg.reserve = rec["reserve"].tolist()
    msg.crc = int(rec["crc"])


# -- the wireless remote ------------------------------------------------------------------------------------
BUTTONS = ("R1", "L1", "start", "select", "R2", "L2", "F1", "F2", "A", "B", "X", "Y", "up", "right", "down", "left")
MODIFIERS = frozenset({"R1", "L1", "R2", "L2"})
_STICKS = struct.Struct("<5f")  # lx, rx, ry, l2, ly at byte 4


@dataclasses.dataclass(frozen=True)
class RemoteState:
    """The remote as LowState reports it: buttons held, stick axes in [-1, 1], analog L2."""

    buttons: frozenset[str]
    lx: float = 0.0
    rx: float = 0.0
    ry: float = 0.0
    l2: float = 0.0
    ly: float = 0.0


def parse_remote(data: Sequence[int] | bytes) -> RemoteState:
    """Decode the 40 wireless-remote bytes of a LowState."""
    raw = bytes(bytearray(data))
    if len(raw) != 40:
        raise ValueError(f"the wireless remote has 40 bytes, not {len(raw)}")
    bits = raw[2] | (raw[3] << 8)
    lx, rx, ry, l2, ly = _STICKS.unpack_from(raw, 4)
    return RemoteState(frozenset(b for i, b in enumerate(BUTTONS) if bits >> i & 1), lx, rx, ry, l2, ly)


# The remote as sensor_msgs/Joy (the layout joy_node gives an Xbox-style gamepad, so one teleop mapping serves
# both): axes left stick x (left +), left stick y (up +), L2 (analog), right stick x (left +), right stick y (up +);
# buttons in JOY_BUTTONS order (A, B, X, Y, L1, R1, select, start first, as a gamepad's A, B, X, Y, LB, RB, back,
# start). The remote's own x axes are right-positive, hence the sign change.
JOY_BUTTONS = ("A", "B", "X", "Y", "L1", "R1", "select", "start", "L2", "R2", "F1", "F2", "up", "right", "down",
               "left")


def joy_axes_buttons(state: RemoteState) -> tuple[list[float], list[int]]:
    """The remote ``state`` as sensor_msgs/Joy axes and buttons (see :data:`JOY_BUTTONS`)."""
    axes = [-state.lx, state.ly, state.l2, -state.rx, state.ry]
    return [float(a) for a in axes], [int(b in state.buttons) for b in JOY_BUTTONS]


SIM_REMOTE_HEAD = (0x55, 0x51)  # header bytes of a linked remote in unitree_sim


def remote_linked(data: Sequence[int] | bytes) -> bool:
    """Whether the 40 wireless-remote bytes come from a linked remote (any byte non-zero)."""
    return any(bytes(bytearray(data)))


def remote_bytes(buttons: Iterable[str] = (), lx: float = 0.0, rx: float = 0.0, ry: float = 0.0, l2: float = 0.0,
                 ly: float = 0.0, linked: bool = True) -> list[int]:
    """The 40 bytes of a remote holding ``buttons`` (names of :data:`BUTTONS`) with the given axes.

    ``linked`` False: the 40 zero bytes of a remote that does not report.
    """
    bits = 0
    for name in buttons:
        if name not in BUTTONS:
            raise ValueError(f"unknown button {name!r}; buttons: {', '.join(BUTTONS)}")
        bits |= 1 << BUTTONS.index(name)
    raw = bytearray(40)
    if not linked:
        return list(raw)
    raw[0], raw[1] = SIM_REMOTE_HEAD
    raw[2], raw[3] = bits & 0xFF, bits >> 8
    _STICKS.pack_into(raw, 4, lx, rx, ry, l2, ly)
    return list(raw)


class RemoteActions:
    """Operator requests from remote button presses (rising edges).

    ``B`` or ``select`` -> ``"damp"`` (always, whatever else is held); ``start`` -> ``"start"`` and ``A`` ->
    ``"go"``, each only while no shoulder button (L1, L2, R1, R2) is held, so that the robot's own combinations
    (L2+R2 debug mode, L1+A, ...) do not start or release the robot by accident.
    """

    def __init__(self) -> None:
        """No button held yet."""
        self._held: frozenset[str] = frozenset()

    def update(self, state: RemoteState) -> list[str]:
        """The actions requested by the buttons pressed since the previous state, damping first."""
        pressed = state.buttons - self._held
        self._held = state.buttons
        actions = []
        if pressed & {"B", "select"}:
            actions.append("damp")
        if not state.buttons & MODIFIERS:
            if "start" in pressed:
                actions.append("start")
            if "A" in pressed:
                actions.append("go")
        return actions
