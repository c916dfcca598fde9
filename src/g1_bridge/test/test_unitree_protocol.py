"""The G1's LowCmd/LowState layout and CRC, the wireless remote, and the bridge's LowCmd clamps (no DDS)."""

import struct

import numpy as np
import pytest

from g1_bridge import unitree_protocol as up
from g1_bridge.unitree_bridge import lowcmd_record, record_is_finite
from twist_core.safety import damping_targets, hold_targets, limit_torque

POLY = 0x04C11DB7


def documented_crc(words) -> int:
    """CRC-32 as documented: poly 0x04C11DB7, init 0xFFFFFFFF, no final XOR, 32-bit words MSB first, bit by bit."""
    crc = 0xFFFFFFFF
    for word in words:
        for bit in range(31, -1, -1):
            feedback = ((crc >> 31) ^ (int(word) >> bit)) & 1
            crc = (crc << 1) & 0xFFFFFFFF
            if feedback:
                crc ^= POLY
    return crc


def random_lowcmd(rng) -> np.ndarray:
    rec = np.zeros((), dtype=up.LOWCMD_DTYPE)
    rec["mode_machine"] = rng.integers(0, 256)
    motors = rec["motor_cmd"]
    motors["mode"] = rng.integers(0, 2, up.NUM_MOTOR_SLOTS)
    for name in ("q", "dq", "tau", "kp", "kd"):
        motors[name] = rng.normal(0.0, 10.0, up.NUM_MOTOR_SLOTS)
    rec["reserve"] = rng.integers(0, 2 ** 32, 4, dtype=np.uint64)
    return rec


def test_crc_of_known_contents_matches_the_documented_algorithm():
    """Known words and a known LowCmd: our CRC equals values of the bit-by-bit definition."""
    assert up.crc32_words(np.array([], dtype=np.uint32)) == 0xFFFFFFFF
    known = {(0,): 0xC704DD7B, (0xFFFFFFFF,): 0x00000000, (0x31323334, 0x35363738): 0x49E3C2FB}
    for words, value in known.items():
        assert documented_crc(words) == value
        assert up.crc32_words(np.array(words, dtype=np.uint32)) == value
    # the damping LowCmd the bridge sends for mode_machine 5: motors 0-28 mode 1, kp 0, kd 8; the rest zero
    rec = np.zeros((), dtype=up.LOWCMD_DTYPE)
    rec["mode_machine"] = 5
    rec["motor_cmd"]["mode"][:29] = 1
    rec["motor_cmd"]["kd"][:29] = 8.0
    words = np.frombuffer(rec.tobytes(), dtype="<u4")[:-1]
    assert documented_crc(words) == up.record_crc(rec) == 0xE61896D2


def test_crc_of_lowcmd_and_lowstate_matches_the_definition_and_the_sdk():
    """Random LowCmds and a LowState: our CRC == the documented bitwise CRC == unitree_sdk2py's CRC."""
    pytest.importorskip("unitree_sdk2py")
    from unitree_sdk2py.idl.default import unitree_hg_msg_dds__LowCmd_, unitree_hg_msg_dds__LowState_
    from unitree_sdk2py.utils.crc import CRC

    rng = np.random.default_rng(0)
    msg = unitree_hg_msg_dds__LowCmd_()
    for _ in range(5):
        rec = random_lowcmd(rng)
        ours = up.record_crc(rec)
        words = np.frombuffer(rec.tobytes(), dtype="<u4")[:-1]
        assert len(words) == 250
        assert ours == documented_crc(words)
        rec["crc"] = ours
        up.fill_lowcmd(msg, rec)
        assert CRC().Crc(msg) == ours
        assert up.lowcmd_record(msg).tobytes() == rec.tobytes()
    state = np.zeros((), dtype=up.LOWSTATE_DTYPE)
    state["mode_machine"], state["tick"], state["version"] = 5, 123456, [1, 2]
    state["motor_state"]["q"] = rng.normal(size=up.NUM_MOTOR_SLOTS)
    state["motor_state"]["temperature"] = [[-3, 40]] * up.NUM_MOTOR_SLOTS
    state["imu_state"]["quaternion"] = [1, 0, 0, 0]
    state["imu_state"]["temperature"] = -7
    state["wireless_remote"] = up.remote_bytes(["A"], lx=0.25)
    state["crc"] = up.record_crc(state)
    lowstate = unitree_hg_msg_dds__LowState_()
    up.fill_lowstate(lowstate, state)
    assert CRC().Crc(lowstate) == int(state["crc"]) == documented_crc(np.frombuffer(state.tobytes(), "<u4")[:-1])
    assert up.lowstate_record(lowstate).tobytes() == state.tobytes()


def test_layout_matches_the_sdk_struct_formats():
    """The record types are the C structs the CRC is defined over (sizes of the SDK's pack formats)."""
    assert up.LOWCMD_DTYPE.itemsize == struct.calcsize("<2B2x" + "B3x5fI" * 35 + "5I") == 1004
    assert up.LOWSTATE_DTYPE.itemsize == struct.calcsize("<2I2B2xI" + "13fh2x" + "B3x4f2hf7I" * 35 + "40B5I") == 2092


def test_a_corrupted_lowcmd_fails_the_crc():
    """One flipped bit anywhere changes the CRC."""
    rec = random_lowcmd(np.random.default_rng(1))
    rec["crc"] = up.record_crc(rec)
    raw = bytearray(rec.tobytes())
    for byte in (0, 1, 4, 500, 999):
        flipped = bytearray(raw)
        flipped[byte] ^= 0x10
        corrupted = np.frombuffer(bytes(flipped), dtype=up.LOWCMD_DTYPE)[0]
        assert up.record_crc(corrupted) != int(corrupted["crc"])


def test_remote_bytes_round_trip_and_actions():
    """Buttons and sticks survive encoding; B/SELECT damp whatever is held; START and A need no shoulder button."""
    state = up.parse_remote(up.remote_bytes(["start", "left"], lx=0.5, ly=-1.0, l2=0.25))
    assert state.buttons == {"start", "left"} and (state.lx, state.ly, state.l2) == (0.5, -1.0, 0.25)
    assert up.remote_bytes(["R1"])[2:4] == [1, 0] and up.remote_bytes(["A"])[2:4] == [0, 1]
    assert up.remote_bytes(["left"])[2:4] == [0, 0x80]
    with pytest.raises(ValueError):
        up.remote_bytes(["Z"])
    actions = up.RemoteActions()
    press = lambda *b: actions.update(up.RemoteState(frozenset(b)))  # noqa: E731
    assert press("start") == ["start"]
    assert press("start") == []           # held: no repeat
    assert press() == [] and press("A") == ["go"]
    assert press() == [] and press("L2", "R2") == [] and press("L2", "R2", "A") == []   # debug-mode combination
    assert press("L2", "R2", "A", "B") == ["damp"]
    assert press() == [] and press("select") == ["damp"]
    assert press() == [] and press("B", "start") == ["damp", "start"]  # damping first


def test_lowcmd_clamps_and_never_non_finite(spec):
    """Positions to limits, PD torque to effort limits by moving the target; a NaN makes the record non-finite."""
    q = spec.default_pose.copy()
    dq = np.zeros(spec.num_joints)
    hold = hold_targets(spec, spec.default_pose, 4.0, 4.0)
    clamped, saturated = limit_torque(spec, hold, q, dq)
    assert not saturated and np.allclose(clamped.position, spec.default_pose)
    far = hold_targets(spec, spec.upper_limits + 1.0, 4.0, 4.0)
    clamped, saturated = limit_torque(spec, far, q, dq)
    assert saturated
    assert np.all(clamped.position <= spec.upper_limits)
    torque = clamped.effort + clamped.kp * (clamped.position - q) + clamped.kd * (clamped.velocity - dq)
    assert np.all(np.abs(torque) <= spec.effort_limits + 1e-9)
    damping, saturated = limit_torque(spec, damping_targets(spec, 8.0), q * np.nan, dq)
    assert not saturated and np.all(np.isfinite(damping.position))
    rec = lowcmd_record(spec, damping, 5)
    assert record_is_finite(rec) and up.record_crc(rec) == int(rec["crc"])
    assert np.all(rec["motor_cmd"]["kp"][:29] == 0) and np.all(rec["motor_cmd"]["kd"][:29] == 8)
    assert np.all(rec["motor_cmd"]["mode"][:29] == 1) and np.all(rec["motor_cmd"]["mode"][29:] == 0)
    bad = hold_targets(spec, spec.default_pose, 1.0, 1.0)
    bad.kd[3] = np.nan
    assert not record_is_finite(lowcmd_record(spec, limit_torque(spec, bad, q, dq)[0], 5))


def test_remote_as_joy_has_the_gamepad_layout():
    """The remote as sensor_msgs/Joy: x axes left-positive (the remote's are right-positive), y up-positive,
    buttons A, B, X, Y, L1, R1, select, start first (a gamepad's A, B, X, Y, LB, RB, back, start under joy_node)."""
    state = up.parse_remote(up.remote_bytes(["L1", "A", "left"], lx=0.5, ly=1.0, rx=-0.25, ry=-0.5, l2=0.75))
    axes, buttons = up.joy_axes_buttons(state)
    assert axes == [-0.5, 1.0, 0.75, 0.25, -0.5]
    assert len(buttons) == len(up.BUTTONS) and set(up.JOY_BUTTONS) == set(up.BUTTONS)
    assert [up.JOY_BUTTONS[i] for i, b in enumerate(buttons) if b] == ["A", "L1", "left"]
    assert up.JOY_BUTTONS[:8] == ("A", "B", "X", "Y", "L1", "R1", "select", "start")
