"""The twist_policy node in its own process over DDS, the test playing bridge (lockstep-like) and reference.

Each tick the test publishes /clock, a MotionReference and a RobotState (simulated time, as a lockstep bridge
does) and waits for the JointCommand answering that state.
"""

import subprocess
import sys

import numpy as np
import pytest
import rclpy
from twist_msgs.msg import JointCommand

from policy_harness import FakeLoop, positions, start_policy_node, stop
from twist_core.policy_io import PolicyIO
from twist_core.safety import Mode
from twist_core.toy_models import write_toy_policy

STARTUP_S = 40.0


@pytest.fixture(scope="module")
def ros():
    """rclpy for this test process."""
    rclpy.init()
    yield
    rclpy.shutdown()


@pytest.fixture(scope="module")
def loop(ros, spec, toy_policy):
    """One policy node process for the module (default timings), answering the fake loop."""
    process = start_policy_node(toy_policy, diagnostics_rate=5.0)
    client = FakeLoop(spec)
    try:
        first = client.wait_for(lambda: client.step(Mode.HOLD, timeout=0.5) or process.poll() is not None,
                                STARTUP_S)
        assert process.poll() is None, process.stderr.read()
        assert first, "the policy node never answered"
        yield client
    finally:
        client.destroy_node()
        stop(process)


def _expected_targets(spec, offset):
    io = PolicyIO(spec)
    targets = np.array(spec.default_pose)
    targets[io.policy_indices] += offset
    return targets


def test_help_and_refused_policies(tmp_path, spec):
    """--help lists the parameters; a policy for other gains, or a missing file, exits with code 2 and says why."""
    out = subprocess.run([sys.executable, "-m", "twist_policy_node.policy_node", "--help"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0 and "reference_timeout" in out.stdout and "hold_time" in out.stdout
    kp = (spec.kp * 1.5).tolist()
    bad = write_toy_policy(tmp_path / "other_gains.onnx", spec, metadata_overrides={"kp": kp})
    for path, reason in ((bad, "kp differs from config/g1.yaml"), (tmp_path / "missing.onnx", "no such file")):
        process = start_policy_node(path)
        try:
            _, err = process.communicate(timeout=60)
        finally:
            stop(process)
        assert process.returncode == 2, err
        assert f"twist_policy: cannot start: {path}" in err and reason in err


def test_hold_mode_answers_with_the_default_pose(loop, spec):
    """Outside POLICY every state gets a MODE_HOLD command at the default pose with config gains, echoing it."""
    for mode in (Mode.ZERO_TORQUE, Mode.RAMP, Mode.HOLD):
        command = loop.step(mode)
        assert command is not None and command.mode == JointCommand.MODE_HOLD
        assert command.state_sequence == loop.tick - 1
        assert list(command.joint_names) == list(spec.joint_names)
        np.testing.assert_allclose(positions(command), spec.default_pose)
        np.testing.assert_allclose(command.kp, spec.kp)
        np.testing.assert_allclose(command.kd, spec.kd)


def test_policy_tracks_then_holds_then_ramps_a_stale_reference(loop, spec):
    """POLICY with a fresh reference: toy targets = reference joints (MODE_POLICY, naming the reference).

    The reference stops: held (targets unchanged) until it is reference_timeout + hold_time = 0.6 s old, then
    ramped linearly to the default pose over ramp_time = 1.0 s (MODE_HOLD all along); it comes back: blended in.
    """
    for _ in range(60):  # past the blend-in of the first reference
        loop.step(Mode.HOLD)
    commands = [loop.step(Mode.POLICY) for _ in range(5)]
    assert all(c is not None and c.mode == JointCommand.MODE_POLICY for c in commands)
    np.testing.assert_allclose(positions(commands[-1]), _expected_targets(spec, 0.2), atol=1e-5)
    last_reference = loop.tick - 1
    tracked = np.array([c.reference_sequence for c in commands])  # each names the newest reference it had
    assert tracked[0] >= 0 and np.all(np.diff(tracked) >= 0) and tracked[-1] - tracked[0] >= 3
    stale = [loop.step(Mode.POLICY, reference=False) for _ in range(90)]
    assert all(c is not None for c in stale), "a stale reference must not stop the commands"
    assert all(c.reference_sequence == -1 for c in stale if c.mode == JointCommand.MODE_HOLD)
    ages = np.array([c.state_sequence - last_reference for c in stale]) * 0.02
    offsets = np.array([np.max(positions(c) - spec.default_pose) for c in stale])
    modes = np.array([c.mode for c in stale])
    assert np.all(modes[ages > 0.14] == JointCommand.MODE_HOLD) and np.all(modes[ages < 0.08] == 0)
    np.testing.assert_allclose(offsets[ages <= 0.58], 0.2, atol=1e-5)  # held
    ramp = (ages > 0.64) & (ages < 1.56)
    np.testing.assert_allclose(offsets[ramp], 0.2 * (1 - (ages[ramp] - 0.6)), atol=0.2 * 0.05)  # +-1 tick
    np.testing.assert_allclose(offsets[ages >= 1.64], 0.0, atol=1e-5)  # standing
    diag = loop.latest_diagnostics(since=len(loop.diagnostics))
    assert diag["reference_state"] == "default" and diag["active"] == "true"
    back = [loop.step(Mode.POLICY) for _ in range(60)]
    offsets = np.array([np.max(positions(c) - spec.default_pose) for c in back])
    assert np.all(np.diff(offsets[:45]) > 0) and offsets[0] < 0.02  # blended back over ramp_time, no jump
    assert back[-1].mode == JointCommand.MODE_POLICY and offsets[-1] == pytest.approx(0.2, abs=1e-5)


def test_stale_state_gets_no_command(loop):
    """A RobotState older than state_timeout gets no command and is reported; the next fresh one is answered."""
    before = len(loop.diagnostics)
    assert loop.step(Mode.POLICY, state=loop.state(Mode.POLICY, age=0.5), timeout=1.0) is None
    diag = loop.latest_diagnostics(since=before)
    assert int(diag["states_stale"]) >= 1 and "old" in diag["last_error"]
    assert loop.step(Mode.POLICY) is not None


def test_bad_inputs_publish_nothing_unsafe(loop, spec):
    """NaN / wrong-size / reordered states get no command; bad references are ignored (they age like missing ones).

    Every command published during the test is finite and names the 29 joints in motor order.
    """
    first = len(loop.commands)
    bad_states = []
    for mutate in (lambda m: m.position.__setitem__(3, float("nan")), lambda m: m.velocity.pop(),
                   lambda m: m.joint_names.reverse(), lambda m: setattr(m.imu_orientation, "w", float("inf"))):
        msg = loop.state(Mode.POLICY)
        mutate(msg)
        bad_states.append(loop.step(Mode.POLICY, state=msg, timeout=0.4))
    assert bad_states == [None] * 4
    bad_reference = loop.reference()
    bad_reference.current.joint_positions = bad_reference.current.joint_positions[:23]
    nan_reference = loop.reference()
    nan_reference.current.root_linear_velocity.x = float("nan")
    answers = [loop.step(Mode.POLICY, reference=bad_reference if k % 2 else nan_reference) for k in range(40)]
    assert all(a is not None for a in answers)
    assert answers[-1].mode == JointCommand.MODE_HOLD  # the bad references count as missing: held, then ramped
    diag = loop.latest_diagnostics(since=len(loop.diagnostics))
    assert int(diag["states_rejected"]) >= 4 and int(diag["references_rejected"]) >= 20  # depth 1: some are overwritten
    for command in loop.commands[first:]:
        assert list(command.joint_names) == list(spec.joint_names)
        for field in (command.position, command.velocity, command.kp, command.kd, command.effort):
            assert len(field) == 29 and np.all(np.isfinite(field))


def test_reference_wait_puts_the_reference_into_the_lockstep(ros, spec, toy_policy):
    """reference_wait: in POLICY a state is answered once the reference stamped at its time arrives (and uses it),
    or after reference_wait with the reference it has.
    """
    from policy_harness import stamp
    from rosgraph_msgs.msg import Clock

    process = start_policy_node(toy_policy, namespace="wait", reference_wait=0.5)
    client = FakeLoop(spec, namespace="wait")  # apart from the module's node, which still runs
    try:
        assert client.wait_for(lambda: client.step(Mode.HOLD, timeout=0.5) or process.poll() is not None, STARTUP_S)
        assert process.poll() is None, process.stderr.read()
        for _ in range(60):
            client.step(Mode.HOLD)
        assert client.step(Mode.POLICY) is not None
        client.clock_pub.publish(Clock(clock=stamp(client.now())))
        client.state_pub.publish(client.state(Mode.POLICY))
        assert client.wait_for(lambda: client._answer(client.tick), 0.2) is None  # waiting for the reference
        client.reference_offset = 0.3
        client.reference_pub.publish(client.reference())
        command = client.wait_for(lambda: client._answer(client.tick), 0.5)
        assert command is not None and command.mode == JointCommand.MODE_POLICY
        np.testing.assert_allclose(positions(command), _expected_targets(spec, 0.3), atol=1e-5)
        client.tick += 1
        late = client.step(Mode.POLICY, reference=False, timeout=2.0)  # no reference: answered after the wait
        assert late is not None and late.mode == JointCommand.MODE_POLICY
        np.testing.assert_allclose(positions(late), _expected_targets(spec, 0.3), atol=1e-5)
    finally:
        client.destroy_node()
        stop(process)
