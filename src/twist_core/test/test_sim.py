"""MuJoCo G1 with the safety state machine, without ROS: standing, falling, determinism, torque limits."""

import numpy as np
import pytest

from twist_core.sim import G1Sim, joint_actuators
from twist_core.safety import Fault, Mode, SafetyConfig, SafetyStateMachine, hold_targets

SUBSTEPS = 10  # 500 Hz physics, 50 Hz control


def run(sim, machine, seconds, gantry_off_in_hold=False, commands=None):
    """Run control ticks; return the pelvis heights seen in HOLD/POLICY."""
    heights = []
    for k in range(int(round(seconds * 50))):
        state = sim.state()
        machine.update(state.time, state.q, state.dq, *state.roll_pitch, state.height, state.saturated)
        if commands is not None:
            machine.on_command(state.time, commands(k))
        if machine.mode in (Mode.HOLD, Mode.POLICY):
            if gantry_off_in_hold and sim.gantry_engaged:
                sim.set_gantry(False)
            heights.append(state.height)
        sim.set_targets(machine.targets(state.time))
        sim.step(SUBSTEPS)
    return np.array(heights)


@pytest.mark.parametrize("gantry_off", [False, True], ids=["gantry_on", "gantry_off"])
def test_hold_stands_for_ten_seconds(spec, gantry_off):
    """In HOLD the pelvis stays within 2 cm of its height at HOLD entry for 10 s, with no fault."""
    sim = G1Sim(spec)
    machine = SafetyStateMachine(spec)
    machine.start(0.0, sim.state().q)
    run(sim, machine, 2.1)
    assert machine.mode == Mode.HOLD
    heights = run(sim, machine, 10.0, gantry_off_in_hold=gantry_off)
    assert machine.mode == Mode.HOLD and machine.fault == Fault.NONE
    assert not sim.gantry_engaged if gantry_off else sim.gantry_engaged
    assert np.max(np.abs(heights - heights[0])) < 0.02
    assert heights[0] > 0.7


def test_config_gains_alone_do_not_hold_the_robot_up(spec):
    """The measurement behind the separate hold gains: 1x TWIST gains without gantry fall."""
    sim = G1Sim(spec)
    machine = SafetyStateMachine(spec, SafetyConfig(hold_kp_scale=1.0, hold_kd_scale=1.0))
    machine.start(0.0, sim.state().q)
    run(sim, machine, 2.1)
    run(sim, machine, 5.0, gantry_off_in_hold=True)
    assert machine.mode == Mode.DAMPING and machine.fault in (Fault.TILT, Fault.HEIGHT)


def test_zero_torque_without_gantry_falls_and_damps(spec):
    """Released from the gantry with zero torque the robot falls; the fall detector trips DAMPING."""
    sim = G1Sim(spec)
    machine = SafetyStateMachine(spec)
    sim.set_gantry(False)
    run(sim, machine, 3.0)
    assert machine.mode == Mode.DAMPING and machine.fault in (Fault.TILT, Fault.HEIGHT)
    assert np.all(machine.targets(sim.time).kd == 8.0)


def test_gantry_holds_a_limp_robot(spec):
    """With the gantry engaged, zero torque for 3 s does not trip the fall detector."""
    sim = G1Sim(spec)
    machine = SafetyStateMachine(spec)
    run(sim, machine, 3.0)
    assert machine.mode == Mode.ZERO_TORQUE and machine.fault == Fault.NONE


def _trajectory(spec, noise):
    sim = G1Sim(spec, imu_noise=noise, seed=3)
    machine = SafetyStateMachine(spec, SafetyConfig(ramp_time=0.5))
    machine.start(0.0, sim.state().q)
    run(sim, machine, 0.6)
    rng = np.random.default_rng(11)
    wiggle = [hold_targets(spec, spec.default_pose + 0.05 * rng.standard_normal(29), 1.0, 1.0) for _ in range(100)]
    machine.on_command(sim.time, wiggle[0])
    machine.go(sim.time)
    states = []
    for k in range(100):
        machine.on_command(sim.time, wiggle[k])
        state = sim.state()
        states.append(np.concatenate([state.q, state.dq, state.gyro, state.accel, state.base_pos]))
        sim.set_targets(machine.targets(sim.time))
        sim.step(SUBSTEPS)
    return np.array(states)


def test_same_commands_give_bit_identical_states(spec):
    """Two runs with the same seed and command sequence are identical to the last bit (noise included)."""
    a = _trajectory(spec, (0.01, 0.05))
    b = _trajectory(spec, (0.01, 0.05))
    assert a.tobytes() == b.tobytes()


def test_applied_torque_respects_effort_limits(spec):
    """A huge gain saturates at the effort limits, and the snapshot says so."""
    sim = G1Sim(spec)
    sim.set_targets(hold_targets(spec, spec.upper_limits, 50.0, 1.0))
    sim.step(2)
    state = sim.state()
    assert state.saturated
    assert np.all(np.abs(state.tau) <= spec.effort_limits + 1e-9)
    np.testing.assert_array_equal(sim.data.actuator_force[joint_actuators(spec, sim.model)], state.tau)
    np.testing.assert_allclose(np.abs(state.tau), spec.effort_limits)  # every joint pushed to its limit


def test_imu_at_rest_measures_gravity(spec):
    """Standing still in the gantry, the accelerometer reads about +g along the IMU z axis."""
    sim = G1Sim(spec)
    machine = SafetyStateMachine(spec)
    machine.start(0.0, sim.state().q)
    run(sim, machine, 3.0)
    state = sim.state()
    assert state.accel[2] == pytest.approx(9.81, abs=0.3)
    assert np.linalg.norm(state.gyro) < 0.05
    assert np.linalg.norm(state.imu_quat_wxyz) == pytest.approx(1.0)


def test_physics_rate_sets_the_timestep(spec):
    """1 kHz physics has a 1 ms step and still stands on the same feet."""
    sim = G1Sim(spec, physics_rate=1000.0)
    assert sim.timestep == pytest.approx(0.001)
    assert sim.state().height == pytest.approx(sim.standing_height)


def test_push_adds_to_the_pelvis_velocity(spec):
    """push() adds a world-frame velocity to the floating base; wrong shapes and NaN are refused."""
    sim = G1Sim(spec)
    before = sim.data.qvel.copy()
    sim.push(np.array([0.5, -0.2, 0.0]))
    np.testing.assert_allclose(sim.data.qvel[:3] - before[:3], [0.5, -0.2, 0.0])
    np.testing.assert_array_equal(sim.data.qvel[3:], before[3:])
    for bad in ([0.5, 0.0], [np.nan, 0.0, 0.0]):
        with pytest.raises(ValueError):
            sim.push(np.array(bad))
