"""The plain logic of cmg_reference without ROS: command filter, root integration, generator."""

import numpy as np
import pytest

from twist_reference.cmg_generator import CmgGenerator, NonFiniteOutput
from twist_reference.command_filter import CommandFilter, HeadingHold, RootIntegrator, Verdict, VelocityHold
from twist_core.cmg_runtime import CmgRuntime, StandingHold
from twist_core.model import standing_height
from twist_core.toy_models import toy_step, write_toy_cmg

RANGE = ([-0.5, -0.4, -1.0], [1.0, 0.4, 1.0])
DT = 0.02


def run(f, start, seconds, dt=DT):
    """Update the filter every dt from ``start`` for ``seconds``; the filtered commands."""
    return np.array([f.update(start + k * dt, dt) for k in range(1, int(round(seconds / dt)) + 1)])


def test_acceleration_limits_and_timeout():
    """The command ramps at the limits toward the target and back to zero once cmd_vel is stale."""
    f = CommandFilter(*RANGE, timeout=0.5, max_linear_accel=1.0, max_yaw_accel=2.0)
    assert np.array_equal(f.update(0.0, DT), np.zeros(3))  # nothing received: zero
    assert f.receive([0.5, 0.0, -0.4], now=0.0).verdict == Verdict.ACCEPTED
    out = run(f, 0.0, 0.4)
    np.testing.assert_allclose(out[:5, 0], [0.02, 0.04, 0.06, 0.08, 0.10])
    np.testing.assert_allclose(out[:5, 2], [-0.04, -0.08, -0.12, -0.16, -0.20])
    np.testing.assert_allclose(out[-1], [0.4, 0.0, -0.4])  # yaw reached its target after 0.2 s, vx still ramping
    assert not f.stale(0.5) and f.stale(0.52)
    out = run(f, 0.4, 1.0)  # t = 0.42 .. 1.4
    vx = out[:, 0]
    np.testing.assert_allclose(vx[:4], [0.42, 0.44, 0.46, 0.48])
    assert vx[4] == pytest.approx(0.5)  # t = 0.5: still fresh
    np.testing.assert_allclose(vx[5:30], 0.5 - 0.02 * np.arange(1, 26), atol=1e-12)  # from t = 0.52: stale
    np.testing.assert_allclose(out[-1], np.zeros(3), atol=1e-12)


def test_linear_limit_is_on_the_vector():
    """(vx, vy) accelerate together along the straight line to the target, at max_linear_accel."""
    f = CommandFilter(*RANGE, max_linear_accel=1.0)
    f.receive([0.3, 0.4, 0.0], now=0.0)
    first = f.update(0.0, DT)
    np.testing.assert_allclose(first[:2], [0.012, 0.016])
    assert np.hypot(*first[:2]) == pytest.approx(0.02)


def test_nan_is_rejected_and_the_previous_command_kept():
    """A non-finite command is refused with a warning; the last good one stays in force."""
    f = CommandFilter(*RANGE, max_linear_accel=100.0)
    f.receive([0.3, 0.0, 0.0], now=0.0)
    for bad in ([np.nan, 0.0, 0.0], [0.0, np.inf, 0.0], [0.0, 0.0, -np.inf], [1.0, 2.0]):
        received = f.receive(bad, now=0.1)
        assert received.verdict == Verdict.REJECTED and "rejected" in received.warning
    np.testing.assert_array_equal(f.update(0.2, DT), [0.3, 0.0, 0.0])
    assert f.stale(0.51)  # rejected commands do not refresh it


def test_clamped_to_the_range_with_one_warning_per_excursion():
    """Commands beyond the model's range are clipped; the warning names the range, once per excursion."""
    f = CommandFilter(*RANGE, max_linear_accel=100.0, max_yaw_accel=100.0)
    first = f.receive([3.0, 0.0, -2.0], now=0.0)
    assert first.verdict == Verdict.CLAMPED
    assert "vx [-0.5, 1] m/s" in first.warning and "yaw_rate [-1, 1] rad/s" in first.warning
    assert "clamped to (1, 0, -1)" in first.warning
    assert f.receive([2.0, 0.0, 0.0], now=0.1).warning is None  # same excursion
    np.testing.assert_array_equal(f.update(0.1, DT), [1.0, 0.0, 0.0])
    assert f.receive([0.5, 0.0, 0.0], now=0.2).verdict == Verdict.ACCEPTED
    assert f.receive([0.0, -1.0, 0.0], now=0.3).warning is not None  # a new excursion


def test_stop_and_reset():
    """stop zeroes the filtered command only; reset forgets the received command too."""
    f = CommandFilter(*RANGE, max_linear_accel=100.0)
    f.receive([0.5, 0.0, 0.0], now=0.0)
    f.update(0.0, DT)
    f.stop()
    assert np.array_equal(f.value, np.zeros(3)) and f.target(0.1)[0] == 0.5
    f.reset()
    assert np.array_equal(f.update(0.1, DT), np.zeros(3))


def test_bad_limits():
    """Limits must be positive."""
    with pytest.raises(ValueError, match="max_yaw_accel"):
        CommandFilter(*RANGE, max_yaw_accel=0.0)
    with pytest.raises(ValueError, match="timeout"):
        CommandFilter(*RANGE, timeout=-1.0)


def _walk(hold: HeadingHold | None, command, drift: float, seconds: float = 30.0,
          spin: float = 0.0) -> tuple[float, float]:
    """A robot whose yaw rate is drift + 0.4 x the yaw rate sent (a tracker that turns badly and drifts) walking
    under ``command`` with ``hold``, spun by ``spin`` rad after 2 s (a push); (its mean yaw rate, its heading error
    to the commanded heading at the end)."""
    heading = commanded = 3.0  # near +pi: the error must wrap
    for k in range(int(seconds / DT)):
        heading += spin if k == int(2.0 / DT) else 0.0
        sent = command if hold is None else hold.update(np.asarray(command), heading, DT)
        heading += (drift + 0.4 * sent[2]) * DT
        commanded += command[2] * DT
    error = float(np.arctan2(np.sin(commanded - heading), np.cos(commanded - heading)))
    return (heading - 3.0 - spin) / seconds, error


def _pace(hold: VelocityHold | None, commands, seconds: float = 20.0, push_at: float | None = None,
          jitter: float = 0.0, measured: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A robot whose planar velocity follows 0.8 x the (vx, vy) it is sent, drifting 0.05 m/s to the left, with a
    0.3 s lag, under ``commands`` ((start time, cmd_vel) pairs through the command filter's acceleration limits,
    ``jitter`` m/s of noise on vx) and ``hold`` (``measured`` False: no velocity reaches it); knocked back 0.5 m/s
    at ``push_at``; (its velocity, the correction: (vx, vy) sent - filtered command) every tick."""
    rng = np.random.default_rng(0)
    command_filter = CommandFilter(*RANGE, timeout=np.inf)
    velocity, out, corrections = np.zeros(2), [], []
    for k in range(int(seconds / DT)):
        now = k * DT
        command_filter.receive([c for t, c in commands if t <= now][-1], now)
        command = command_filter.update(now, DT)
        command = command + [rng.uniform(-jitter, jitter) if command[0] else 0.0, 0.0, 0.0]
        sent = command if hold is None else hold.update(command, velocity if measured else None, DT)
        velocity = velocity + DT / 0.3 * (0.8 * sent[:2] + [0.0, 0.05] - velocity)
        velocity[0] -= 0.5 if push_at is not None and k == int(push_at / DT) else 0.0
        out.append(velocity.copy())
        corrections.append(sent[:2] - command[:2])
    return np.array(out), np.array(corrections)


WALK = [(0.0, [1.0, 0.0, 0.0])]  # ramps to 1.0 m/s in 1 s


def test_velocity_hold_brings_a_slow_tracker_to_the_commanded_velocity():
    """Without the hold the robot walks 0.8 of the command and drifts sideways; with it, the command is met once
    it has held for the settle time (no correction while it ramps), joystick jitter or not, within max_correction
    per axis and the command's share of full_speed; a push is recovered; the drift while turning on the spot is
    held; off (gain 0) or without a measurement nothing changes."""
    free, _ = _pace(None, WALK)
    np.testing.assert_allclose(free[-1], [0.8, 0.05], atol=1e-3)
    held, _ = _pace(VelocityHold(), WALK)
    np.testing.assert_allclose(held[-1], [1.0, 0.0], atol=0.01)
    assert held[:int(2.0 / DT), 0].max() < 0.81  # nothing before the command has held for a second
    jittery, _ = _pace(VelocityHold(), WALK, jitter=0.03)
    np.testing.assert_allclose(jittery[-50:].mean(axis=0), [1.0, 0.0], atol=0.02)
    hold = VelocityHold(max_correction=0.1)
    np.testing.assert_allclose(_pace(hold, WALK)[0][-1], [0.88, 0.0], atol=0.01)  # vx short by what is not allowed
    np.testing.assert_allclose(hold.correction, [0.1, -0.0625], atol=1e-3)
    _, correction = _pace(VelocityHold(), [(0.0, [0.1, 0.0, 0.0])])  # 0.1 m/s: at most 0.2 x max_correction
    assert np.abs(correction).max() == pytest.approx(0.06)
    pushed, _ = _pace(VelocityHold(), WALK, seconds=30.0, push_at=15.0)
    np.testing.assert_allclose(pushed[-1], [1.0, 0.0], atol=0.01)
    assert pushed[int(15.0 / DT):, 0].max() < 1.15  # the push's integrated error overshoots a little, then settles
    turning, _ = _pace(VelocityHold(), [(0.0, [0.0, 0.0, 0.8])])
    np.testing.assert_allclose(turning[-1], [0.0, 0.0], atol=0.01)
    for off in (VelocityHold(gain=0.0), None):
        np.testing.assert_allclose(_pace(off, WALK)[0][-1], free[-1])
    np.testing.assert_allclose(_pace(VelocityHold(), WALK, measured=False)[0][-1], free[-1])
    with pytest.raises(ValueError, match="velocity hold"):
        VelocityHold(settle=-1.0)


def test_velocity_hold_carries_its_correction_only_in_the_same_direction():
    """A correction learnt walking forward scales with the speed while the command ramps down, then fades (never a
    jump) once it turns on the spot or reverses; it scales with the speed when the command slows in the same
    direction, goes to zero with the command when it stops, and fades without a measurement; the sum never winds
    up past the model's range."""
    fade_step = 1.0 * DT + 1e-9
    for then in ([0.0, 0.0, 0.8], [-0.3, 0.0, 0.3]):
        _, correction = _pace(VelocityHold(), WALK + [(20.0, then)], seconds=22.0)
        start = int(20.0 / DT)
        assert correction[start - 1, 0] > 0.2  # learnt walking at 1.0 m/s
        assert np.abs(np.diff(correction, axis=0)).max() <= fade_step  # fading, never a jump
        assert np.all(np.abs(correction[start + int(1.4 / DT):start + int(1.9 / DT)]) < 1e-9)  # gone until it settles
    _, correction = _pace(VelocityHold(), WALK + [(20.0, [0.5, 0.0, 0.0])], seconds=21.0)
    start = int(20.0 / DT)
    np.testing.assert_allclose(correction[-1], 0.5 * correction[start - 1], rtol=0.05)  # slower: scaled, kept
    _, correction = _pace(VelocityHold(), WALK + [(20.0, [0.0, 0.0, 0.0])], seconds=22.0)
    assert np.abs(np.diff(correction, axis=0)).max() <= fade_step
    np.testing.assert_array_equal(correction[-50:], 0.0)  # standing: the CMG sees exactly zero
    hold = VelocityHold()
    _pace(hold, WALK)
    learnt = hold.correction.copy()
    sent = [hold.update(np.array([1.0, 0.0, 0.0]), None, DT)[:2] for _ in range(10)]  # the measurement stops
    np.testing.assert_allclose(sent[0], [1.0, 0.0] + learnt - np.clip(learnt, -DT, DT))
    np.testing.assert_allclose(sent[-1], [1.0, 0.0] + learnt - np.clip(learnt, -10 * DT, 10 * DT))
    edge = VelocityHold(command_min=(-0.5, -0.4), command_max=(1.0, 0.4))
    _pace(edge, WALK)  # at the range's edge (1.0): vx cannot be corrected upward, so it does not wind up
    assert edge.correction[0] == 0.0 and edge.correction[1] < -0.05
    with pytest.raises(ValueError, match="velocity hold"):
        VelocityHold(command_min=(-1.0, -1.0, -1.0))


def test_heading_hold_cancels_a_yaw_drift_while_walking():
    """Walking straight, a -0.15 rad/s drift is cancelled (heading error bounded by the feedback); turning while
    walking or on the spot follows the commanded heading; a robot that a push turned a little turns back, one it
    spun keeps its new heading; off (gain 0) or standing it changes nothing; a target the robot cannot follow does
    not wind up."""
    rate, error = _walk(None, [0.5, 0.0, 0.0], drift=-0.15)
    assert rate == pytest.approx(-0.15) and abs(error) > 1.0
    rate, error = _walk(HeadingHold(), [0.5, 0.0, 0.0], drift=-0.15)
    assert abs(rate) < 0.01 and abs(error) == pytest.approx(0.15 / (0.4 * 2.0), abs=0.01)  # steady-state error
    rate, error = _walk(HeadingHold(), [0.5, 0.0, 0.2], drift=-0.05)
    assert rate == pytest.approx(0.2, abs=0.01) and abs(error) < 0.5
    rate, _ = _walk(None, [0.0, 0.0, 0.3], drift=0.0)
    assert rate == pytest.approx(0.12)  # this robot turns at 0.4 x the yaw rate it is sent
    rate, error = _walk(HeadingHold(), [0.0, 0.0, 0.3], drift=0.0)  # on the spot: sent 0.75 rad/s, it keeps up
    assert rate == pytest.approx(0.3, abs=0.01) and abs(error) == pytest.approx(0.45 / 2.0, abs=0.01)
    for spin in (0.3, -0.3):  # a push turns the robot a little: it turns back
        rate, error = _walk(HeadingHold(), [0.5, 0.0, 0.0], drift=0.0, spin=spin)
        assert abs(error) < 0.01 and rate * 30.0 == pytest.approx(-spin, abs=0.01)
    rate, error = _walk(HeadingHold(), [0.5, 0.0, 0.0], drift=0.0, spin=2.5)  # a spin: it keeps its new heading
    assert rate * 30.0 == pytest.approx(-0.5, abs=0.01) and error == pytest.approx(-2.0, abs=0.01)
    hold = HeadingHold(gain=0.0)
    np.testing.assert_array_equal(hold.update(np.array([0.5, 0.0, 0.1]), 1.0, DT), [0.5, 0.0, 0.1])
    hold = HeadingHold()
    hold.update(np.array([0.0, 0.0, 0.4]), 0.0, DT)
    np.testing.assert_array_equal(hold.update(np.array([0.0, 0.0, 0.0]), 1.0, DT), [0.0, 0.0, 0.0])
    assert hold.target is None  # stopped: the next walk starts at the robot's heading
    np.testing.assert_array_equal(hold.update(np.array([0.5, 0.0, 0.0]), None, DT), [0.5, 0.0, 0.0])
    hold = HeadingHold()
    for _ in range(500):  # asks 1 rad/s of a robot that does not turn
        sent = hold.update(np.array([0.5, 0.0, 1.0]), 0.0, DT)
    assert hold.target == pytest.approx(0.5) and sent[2] == pytest.approx(1.5)
    with pytest.raises(ValueError, match="heading hold"):
        HeadingHold(gain=-1.0)


def test_root_integration():
    """Straight lines along the heading; a constant turn traces the circle of radius v / yaw_rate."""
    root = RootIntegrator(0.75)
    root.align([1.0, 2.0], np.pi / 2)
    for _ in range(50):
        root.step([0.5, 0.1, 0.0], DT)
    np.testing.assert_allclose(root.position, [1.0 - 0.1, 2.0 + 0.5, 0.75], atol=1e-12)
    np.testing.assert_allclose(root.quaternion, [np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)], atol=1e-12)
    circle = RootIntegrator(0.75)
    for _ in range(100):  # a quarter turn at 0.5 m/s, yaw rate pi/4 rad/s (2 s)
        circle.step([0.5, 0.0, np.pi / 4], DT)
    radius = 0.5 / (np.pi / 4)
    np.testing.assert_allclose(circle.position[:2], [radius, radius], atol=1e-4)
    assert circle.heading == pytest.approx(np.pi / 2)
    ahead = circle.copy()
    ahead.step([1.0, 0.0, 0.0], 1.0)
    assert circle.position[1] == pytest.approx(radius, abs=1e-4)  # the copy is independent


@pytest.fixture(scope="module")
def runtime(spec, tmp_path_factory):
    """The toy CMG."""
    return CmgRuntime(write_toy_cmg(tmp_path_factory.mktemp("cmg") / "toy.onnx", spec), spec)


def test_generator_steps_the_model_and_moves_the_root(runtime, spec):
    """Frames follow the model from standing; root velocities are the command; key bodies by FK."""
    gen = CmgGenerator(runtime, spec)
    start = gen.frame(np.zeros(3))
    np.testing.assert_allclose(start.joint_pos, spec.default_pose)
    assert start.root_pos[2] == pytest.approx(gen.root.height) and 0.6 < gen.root.height < 0.9
    assert start.key_body_pos_local.shape == (len(spec.key_bodies), 3)
    torso = spec.key_body_names.index("torso")
    assert start.key_body_pos_local[torso][2] > 0.0  # the torso is above the pelvis
    command = np.array([0.5, 0.0, 0.2])
    previous = gen.motion.copy()
    gen.advance(command)
    np.testing.assert_allclose(gen.motion, toy_step(spec, previous, command), atol=1e-5)
    frame = gen.frame(command)
    np.testing.assert_array_equal(frame.root_lin_vel_local, [0.5, 0.0, 0.0])
    np.testing.assert_array_equal(frame.root_ang_vel_local, [0.0, 0.0, 0.2])
    assert frame.root_pos[0] == pytest.approx(0.01, abs=1e-5)
    still = gen.frame(command, still=True)
    assert not np.any(still.joint_vel) and not np.any(still.root_lin_vel_local)
    crouch = gen.motion.copy()
    for side in ("left", "right"):
        for joint, delta in (("hip_pitch", -0.3), ("knee", 0.6), ("ankle_pitch", -0.3)):
            crouch[spec.joint_index(f"{side}_{joint}_joint")] += delta
    gen.state = gen.state._replace(motion=crouch)
    low = gen.frame(command)  # the pelvis height puts the lower foot on the floor, as in the training clips
    assert low.root_pos[2] == pytest.approx(standing_height(spec, crouch[:29])) and \
        low.root_pos[2] < start.root_pos[2] - 0.03


def test_generator_clamps_joints_to_the_limits(spec, tmp_path):
    """A command that would push the knees past their limit leaves them at the limit, fed back clamped."""
    integrator = CmgRuntime(write_toy_cmg(tmp_path / "integrator.onnx", spec, decay=1.0), spec)  # no pull back
    gen = CmgGenerator(integrator, spec)
    knee = spec.joint_index("left_knee_joint")
    gen.motion[knee] = spec.upper_limits[knee] - 0.001
    gen.advance(np.array([1.0, 0.0, 0.0]))
    assert gen.motion[knee] == spec.upper_limits[knee]
    gen.advance(np.array([-0.5, 0.0, 0.0]))  # the next step starts from the limit, not beyond it
    assert gen.motion[knee] == pytest.approx(spec.upper_limits[knee] - 0.015, abs=1e-5)
    assert np.all(gen.motion[:29] <= spec.upper_limits) and np.all(gen.motion[:29] >= spec.lower_limits)


def test_future_frames_are_the_later_frames(runtime, spec):
    """future(k frames every s steps) equals advancing s, 2s, ... steps with the same command; state unchanged."""
    gen = CmgGenerator(runtime, spec)
    command = np.array([0.6, -0.1, 0.5])
    gen.advance(command)
    before = gen.motion.copy(), gen.root.position
    future = gen.future(command, 3, 5)
    np.testing.assert_array_equal(gen.motion, before[0])
    np.testing.assert_array_equal(gen.root.position, before[1])
    assert [offset for offset, _ in future] == pytest.approx([0.1, 0.2, 0.3])
    for k in range(1, 16):
        gen.advance(command)
        if k % 5 == 0:
            later = gen.frame(command)
            expected = future[k // 5 - 1][1]
            np.testing.assert_allclose(expected.joint_pos, later.joint_pos, atol=1e-12)
            np.testing.assert_allclose(expected.root_pos, later.root_pos, atol=1e-12)
            np.testing.assert_allclose(expected.root_quat, later.root_quat, atol=1e-12)
            np.testing.assert_allclose(expected.key_body_pos_local, later.key_body_pos_local, atol=1e-12)
    assert gen.future(command, 0, 5) == []


def test_generator_non_finite_output(spec, tmp_path):
    """NaN from the model raises NonFiniteOutput and leaves the state as it was; standing() is the hold frame."""
    runtime = CmgRuntime(write_toy_cmg(tmp_path / "nan.onnx", spec, nan_above_vx=0.5), spec)
    gen = CmgGenerator(runtime, spec)
    gen.advance(np.array([0.4, 0.0, 0.0]))
    state = gen.motion.copy(), gen.root.position
    with pytest.raises(NonFiniteOutput):
        gen.advance(np.array([0.6, 0.0, 0.0]))
    np.testing.assert_array_equal(gen.motion, state[0])
    np.testing.assert_array_equal(gen.root.position, state[1])
    hold = gen.standing()
    np.testing.assert_allclose(hold.joint_pos, spec.default_pose)
    assert not np.any(hold.joint_vel) and not np.any(hold.root_lin_vel_local)
    np.testing.assert_array_equal(hold.root_pos, state[1])


class CountingRuntime:
    """A CmgRuntime that counts model steps."""

    def __init__(self, runtime):
        """Wrap ``runtime``."""
        self.runtime, self.steps = runtime, 0

    def __getattr__(self, name):
        """Everything else from the wrapped runtime."""
        return getattr(self.runtime, name)

    def step(self, motion, command):
        """Count, then step."""
        self.steps += 1
        return self.runtime.step(motion, command)


def test_future_window_costs_one_step_per_tick_under_a_held_command(runtime, spec):
    """The rollout is kept while the command holds: one new model step per tick; a new command rolls afresh.

    The frames are exactly those of a generator without a future window.
    """
    counting = CountingRuntime(runtime)
    gen, plain = CmgGenerator(counting, spec), CmgGenerator(runtime, spec)
    held, other = np.array([0.5, 0.0, 0.2]), np.array([0.3, 0.1, 0.0])
    gen.reference(held, 3, 5)
    assert counting.steps == 15
    steps = []
    for command in [held] * 10 + [other] + [held] * 3:
        counting.steps = 0
        gen.advance(command)
        current, future = gen.reference(command, 3, 5)
        steps.append(counting.steps)
        assert len(future) == 3
        plain.advance(command)
        expected = plain.frame(command)
        np.testing.assert_array_equal(current.joint_pos, expected.joint_pos)
        np.testing.assert_array_equal(current.joint_vel, expected.joint_vel)
        np.testing.assert_array_equal(current.root_pos, expected.root_pos)
        np.testing.assert_array_equal(current.root_quat, expected.root_quat)
    assert steps == [1] * 10 + [16, 16, 1, 1]  # a new command: one step to advance, 15 to roll the window


def test_generator_stands_still_at_zero_command(spec, tmp_path):
    """A model that never stands by itself: within the deadband the root stops and the joints settle into the
    standing frame (future frames included) and stay; with the hold off they stay where the walk left them."""
    sticky = CmgRuntime(write_toy_cmg(tmp_path / "sticky.onnx", spec, decay=1.0), spec)
    gen, off = CmgGenerator(sticky, spec), CmgGenerator(sticky, spec, StandingHold(enabled=False))
    walk, tiny = np.array([0.5, 0.0, 0.3]), np.array([0.02, 0.0, 0.04])
    for g in (gen, off):
        for _ in range(20):
            g.advance(walk)
    assert np.abs(gen.motion[:29] - spec.default_pose).max() > 0.05
    position = gen.root.position
    current, future = gen.reference(tiny, 3, 10)  # rolled ahead through the settling
    for k in range(1, 31):
        gen.advance(tiny)
        off.advance(tiny)
        if k % 10 == 0:
            frame = gen.frame(tiny)
            np.testing.assert_allclose(future[k // 10 - 1][1].joint_pos, frame.joint_pos, atol=1e-12)
    np.testing.assert_array_equal(gen.root.position, position)  # inside the deadband: zero for the root too
    assert not np.any(gen.frame(tiny).root_lin_vel_local)
    for _ in range(11):
        gen.advance(tiny)
    np.testing.assert_array_equal(gen.frame(tiny).joint_pos, spec.default_pose)
    assert not np.any(gen.frame(tiny).joint_vel)
    assert np.abs(off.motion[:29] - spec.default_pose).max() > 0.05
    assert off.root.position[0] > position[0]
