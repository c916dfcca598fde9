"""CmgRuntime against the toy CMG of twist_core.toy_models: stepping, rollout and every refusal."""

import json

import numpy as np
import pytest

from twist_core.cmg_runtime import (CMG_FORMAT_VERSION, CmgFreeRun, CmgModelError, CmgRuntime, FreeRunState,
                                    StandingHold)
from twist_core.toy_models import (DEFAULT_COMMAND_MAX, DEFAULT_COMMAND_MIN, standing_frame, toy_step,
                                   write_toy_cmg)


@pytest.fixture(scope="module")
def toy(spec, tmp_path_factory):
    """A valid toy model on disk."""
    return write_toy_cmg(tmp_path_factory.mktemp("cmg") / "toy.onnx", spec)


@pytest.fixture(scope="module")
def runtime(spec, toy):
    """The toy model loaded."""
    return CmgRuntime(toy, spec)


def test_loads_the_metadata(runtime, spec):
    """fps, command range, standing frame and the free-form summaries come from the metadata."""
    assert runtime.fps == 50.0
    np.testing.assert_array_equal(runtime.command_min, DEFAULT_COMMAND_MIN)
    np.testing.assert_array_equal(runtime.command_max, DEFAULT_COMMAND_MAX)
    np.testing.assert_allclose(runtime.standing_frame, standing_frame(spec))
    assert runtime.metadata["training_data"]["source"] == "toy model (tests)"
    assert runtime.metadata["git_commit"] == "toy"
    pos, vel = runtime.split(runtime.standing_frame)
    np.testing.assert_allclose(pos, spec.default_pose)
    assert vel.shape == (29,)


def test_step_single_and_batch(runtime, spec):
    """One frame in, one out; a batch in, a batch out; both as the toy's formula says (float32 precision)."""
    rng = np.random.default_rng(0)
    standing = runtime.standing_frame
    assert runtime.step(standing, np.zeros(3)) == pytest.approx(standing, abs=1e-6)  # a fixed point
    command = np.array([0.5, -0.2, 0.3])
    out = runtime.step(standing, command)
    assert out.shape == (58,) and out.dtype == np.float64
    np.testing.assert_allclose(out, toy_step(spec, standing, command), atol=1e-5)
    assert np.max(np.abs(out[:29] - standing[:29])) > 0.01  # the command moves joints visibly
    motions = standing + 0.1 * rng.standard_normal((5, 58))
    commands = rng.uniform(-0.4, 0.4, (5, 3))
    batch = runtime.step(motions, commands)
    assert batch.shape == (5, 58)
    np.testing.assert_allclose(batch, toy_step(spec, motions, commands), atol=1e-5)
    np.testing.assert_allclose(batch[2], runtime.step(motions[2], commands[2]), atol=1e-6)
    shared = runtime.step(motions, commands[0])  # one command for every row
    np.testing.assert_allclose(shared, toy_step(spec, motions, commands[0]), atol=1e-5)
    assert runtime.step(standing, command[None]).shape == (58,)


def test_rollout(runtime, spec):
    """rollout returns the start plus one frame per command, single and batched."""
    commands = np.tile([0.8, 0.0, 0.0], (40, 1))
    frames = runtime.rollout(runtime.standing_frame, commands)
    assert frames.shape == (41, 58)
    np.testing.assert_array_equal(frames[0], runtime.standing_frame)
    np.testing.assert_allclose(frames[1], runtime.step(frames[0], commands[0]), atol=1e-6)
    settled = toy_step(spec, frames[-1], commands[-1])  # bounded: converges under a constant command
    np.testing.assert_allclose(frames[-1], settled, atol=0.05)
    batch = runtime.rollout(np.stack([runtime.standing_frame] * 2), np.zeros((3, 2, 3)))
    assert batch.shape == (4, 2, 58)
    assert runtime.rollout(runtime.standing_frame, np.zeros((0, 3))).shape == (1, 58)


def test_clamp_command(runtime):
    """Commands are clipped to the training range per component."""
    np.testing.assert_array_equal(runtime.clamp_command([5.0, -5.0, 0.2]), [1.0, -0.4, 0.2])
    np.testing.assert_array_equal(runtime.clamp_command([[-9.0, 0.1, 9.0]]), [[-0.5, 0.1, 1.0]])


def test_bad_inputs_raise_value_error(runtime):
    """NaN/Inf and wrong shapes are refused before ONNX Runtime sees them."""
    standing = runtime.standing_frame
    with pytest.raises(ValueError, match="NaN"):
        runtime.step(standing, [np.nan, 0.0, 0.0])
    with pytest.raises(ValueError, match="NaN"):
        runtime.step(np.where(np.arange(58) == 3, np.inf, standing), np.zeros(3))
    for motion, command in [(standing[:57], np.zeros(3)), (standing[None, None], np.zeros(3)), (1.0, np.zeros(3)),
                            (standing, np.zeros(2)), (standing, np.zeros((2, 3))), (standing, 0.0),
                            (np.stack([standing] * 3), np.zeros((2, 3))), (standing, np.zeros((1, 1, 3)))]:
        with pytest.raises(ValueError, match="must be"):
            runtime.step(motion, command)


@pytest.mark.parametrize("options, message", [
    ({"omit_metadata": ["fps"]}, "metadata 'fps' is missing"),
    ({"omit_metadata": ["standing_frame"]}, "metadata 'standing_frame' is missing"),
    ({"version": CMG_FORMAT_VERSION + 1}, "format version 2"),
    ({"motion_width": 57}, "input 'motion' must be \\(batch, 58\\)"),
    ({"fps": 0.0}, "'fps' must be a positive number"),
    ({"command_min": (1.5, 0.0, 0.0)}, "bad command range"),
    ({"metadata": {"command_names": ["vx", "vy", "wz"]}}, "commands"),
    ({"metadata": {"standing_frame": [0.0] * 10}}, "standing_frame must be 58 finite numbers"),
    ({"metadata": {"fps": "fast"}}, "'fps' must be numbers"),
    ({"metadata": {"joint_names": "left_hip_pitch_joint"}}, "'joint_names' must be a list of names"),
])
def test_refuses_a_model_that_breaks_the_contract(spec, tmp_path, options, message):
    """Each way of breaking the contract is a CmgModelError saying which part."""
    path = write_toy_cmg(tmp_path / "bad.onnx", spec, **options)
    with pytest.raises(CmgModelError, match=message) as error:
        CmgRuntime(path, spec)
    assert str(path) in str(error.value)


def test_wrong_joint_order_names_the_joints(spec, tmp_path):
    """Swapped joints are named with their index and both names."""
    names = list(spec.joint_names)
    names[3], names[9] = names[9], names[3]
    path = write_toy_cmg(tmp_path / "swapped.onnx", spec, joint_names=names)
    with pytest.raises(CmgModelError, match="joint order") as error:
        CmgRuntime(path, spec)
    assert "3: model 'right_knee_joint' vs robot 'left_knee_joint'" in str(error.value)
    assert "9: model 'left_knee_joint' vs robot 'right_knee_joint'" in str(error.value)
    path = write_toy_cmg(tmp_path / "short.onnx", spec, joint_names=names[:23])
    with pytest.raises(CmgModelError, match="23 vs 29 joints"):
        CmgRuntime(path, spec)


def test_missing_and_corrupt_files(spec, tmp_path):
    """No file, random bytes, and a metadata value that is not JSON are CmgModelErrors."""
    with pytest.raises(CmgModelError, match="no such file"):
        CmgRuntime(tmp_path / "nothing.onnx", spec)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(CmgModelError, match="not a loadable ONNX model"):
        CmgRuntime(garbage, spec)
    import onnx

    path = write_toy_cmg(tmp_path / "toy.onnx", spec)
    model = onnx.load(str(path))
    for prop in model.metadata_props:
        if prop.key == "fps":
            prop.value = "50 Hz"
    onnx.save(model, str(path))
    with pytest.raises(CmgModelError, match="metadata 'fps' is not valid JSON"):
        CmgRuntime(path, spec)


def test_metadata_values_are_json(spec, tmp_path):
    """The fixture writes every metadata value as a JSON string (as cmg-export does)."""
    import onnx

    model = onnx.load(str(write_toy_cmg(tmp_path / "toy.onnx", spec)))
    props = {p.key: json.loads(p.value) for p in model.metadata_props}
    assert props["twist_cmg_version"] == CMG_FORMAT_VERSION and len(props["standing_frame"]) == 58
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 58]


@pytest.fixture(scope="module")
def sticky(spec, tmp_path_factory):
    """A toy model that never stands by itself: at zero command it keeps whatever pose it is in (decay 1)."""
    return CmgRuntime(write_toy_cmg(tmp_path_factory.mktemp("cmg") / "sticky.onnx", spec, decay=1.0), spec)


def walked_away(run: CmgFreeRun, steps: int = 20) -> FreeRunState:
    """The free run after ``steps`` frames of walking and turning."""
    state = run.start()
    for _ in range(steps):
        state, _ = run.step(state, [0.5, 0.0, 0.3])
    return state


def test_free_run_settles_into_the_standing_frame_and_holds_it(sticky, spec, monkeypatch):
    """Zero command: the pose waits ``delay``, then its distance from standing shrinks by the smoothstep profile
    to exactly the standing frame, velocities equal to the frames' differences; held without running the model."""
    hold = StandingHold(delay=0.2, blend=0.6)
    run = CmgFreeRun(sticky, hold)
    state = walked_away(run)
    n = spec.num_joints
    away = state.motion[:n] - run.standing[:n]
    assert np.abs(away).max() > 0.05
    previous = state.motion
    for k in range(1, 41):
        state, raw = run.step(state, np.zeros(3))
        remaining = 1.0 - hold.weight(k * run.dt)
        np.testing.assert_allclose(state.motion[:n] - run.standing[:n], remaining * away, atol=2e-5)
        np.testing.assert_allclose(state.motion[n:], (state.motion[:n] - previous[:n]) / run.dt, atol=2e-3)
        previous = state.motion
    assert remaining == 0.0  # 0.2 + 0.6 s = 40 frames
    np.testing.assert_array_equal(state.motion[:n], run.standing[:n])
    calls = []
    monkeypatch.setattr(sticky, "step", lambda *a: calls.append(a))
    for _ in range(100):
        state, raw = run.step(state, np.zeros(3))
        np.testing.assert_array_equal(state.motion, run.standing)
        np.testing.assert_array_equal(raw, run.standing)
    assert calls == [] and state.still == pytest.approx(140 * run.dt)


def test_free_run_hands_back_to_the_model_on_a_command(sticky, spec):
    """A command while settling (or standing) continues the model from the current frame, with no jump."""
    run = CmgFreeRun(sticky)
    state = walked_away(run)
    for _ in range(25):  # half-way through settling
        state, _ = run.step(state, np.zeros(3))
    command = np.array([0.3, 0.1, -0.2])
    after, raw = run.step(state, command)
    np.testing.assert_allclose(raw, sticky.step(state.motion, command), atol=1e-6)
    np.testing.assert_allclose(after.motion, run.clamp(raw), atol=1e-9)
    assert after.still == 0.0


def test_free_run_deadband_batches_and_off_switch(sticky, spec):
    """Commands within the deadband are zero; rows settle independently; a disabled hold is the model alone."""
    run = CmgFreeRun(sticky, StandingHold(deadband=(0.03, 0.03, 0.05)))
    np.testing.assert_array_equal(run.command([0.02, -0.03, 0.05]), np.zeros(3))
    np.testing.assert_array_equal(run.command([0.04, 0.0, 0.0]), [0.04, 0.0, 0.0])
    np.testing.assert_array_equal(run.command([[0.0, 0.0, 0.01], [9.0, 0.0, 0.0]]),
                                  [[0.0, 0.0, 0.0], sticky.clamp_command([9.0, 0.0, 0.0])])
    moving = np.array([0.4, 0.0, 0.2])
    state = run.start(2)
    alone = CmgFreeRun(sticky, StandingHold(enabled=False))
    plain = alone.start()
    np.testing.assert_array_equal(alone.command([0.02, 0.0, 0.0]), [0.02, 0.0, 0.0])
    for k in range(61):  # 41 frames of (deadband) zero: settled after 40, held (the standing frame itself) after 41
        commands = np.array([moving, moving if k < 20 else [0.01, 0.0, 0.0]])
        state, _ = run.step(state, commands)
        plain, _ = alone.step(plain, moving)
        np.testing.assert_allclose(state.motion[0], plain.motion, atol=1e-9)  # the moving row: the model alone
    np.testing.assert_array_equal(state.motion[1], run.standing)
    np.testing.assert_allclose(state.still, [0.0, 41 * run.dt])
    with pytest.raises(ValueError):
        StandingHold(blend=0.0)
