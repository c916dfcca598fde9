"""CMG: data preparation, the MoE model, the training recipe, resume, ONNX export and the evaluation metrics."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from twist_core.cmg_runtime import CmgFreeRun, CmgRuntime, StandingHold
from twist_core.motion import MotionError, save_motion
from twist_core.robot import load_robot_spec
from twist_core.testing.motion_fixture import malicious_pickle
from twist_core.toy_models import walking_clip, write_toy_cmg
from twist_training.cmg import data as cmg_data
from twist_training.cmg.evaluate import ankle_positions, evaluate, gait_period, grid, leg_odometry
from twist_training.cmg.export import export
from twist_training.cmg.model import CmgConfig, CmgNet, MoELayer, NormalizedCmg
from twist_training.cmg.train import (Trainer, TrainConfig, learning_rate, limit_penalty, rollout_loss,
                                      teacher_probability)

TINY = CmgConfig(hidden=32, gate_hidden=16)
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def clips_dir(spec, tmp_path_factory):
    """Six short synthetic clips at different speeds."""
    root = tmp_path_factory.mktemp("clips")
    for i, (vx, yaw) in enumerate([(0.3, 0.0), (0.6, 0.0), (1.0, 0.2), (0.0, 0.0), (0.5, -0.3), (0.8, 0.0)]):
        save_motion(walking_clip(spec, 4.0, vx, yaw), root / f"clip_{i:04d}.npz")
    return root


@pytest.fixture(scope="module")
def prepared(spec, clips_dir):
    """Prepared windows of the clips."""
    return cmg_data.prepare_from_motions(spec, cmg_data.motion_files([str(clips_dir)]), validation_fraction=0.2,
                                         stride=10, progress=False)


def test_moe_output_blend_equals_weight_blend():
    """Blending expert outputs is the same function as blending expert weights (float64)."""
    torch.manual_seed(0)
    layer = MoELayer(61, 40, 4).double()
    layer.bias.data.normal_()
    x = torch.randn(16, 61, dtype=torch.float64)
    c = torch.softmax(torch.randn(16, 4, dtype=torch.float64), dim=-1)
    assert torch.allclose(layer(x, c), layer.forward_blended_weights(x, c), atol=1e-12)
    net = CmgNet(CmgConfig(hidden=64, gate_hidden=32)).double()
    m, cmd = torch.randn(8, 58, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64)
    assert torch.allclose(net(m, cmd), net(m, cmd, blended_weights=True), atol=1e-10)


def test_reference_size_has_the_designed_parameter_count():
    """4 experts, hidden 512, 3 MoE layers, gate 61-512-4: about 1.33 M parameters."""
    count = sum(p.numel() for p in CmgNet(CmgConfig()).parameters())
    assert count == 4 * (61 * 512 + 512 + 512 * 512 + 512 + 512 * 58 + 58) + (61 * 512 + 512 + 512 * 4 + 4)
    assert 1.3e6 < count < 1.36e6


def test_windows_commands_and_mirroring(spec, prepared):
    """Windows are 31 frames / 30 commands, mirrored copies negate vy and yaw rate and swap sides."""
    assert prepared.motion.shape[1:] == (31, 58) and prepared.command.shape[1:] == (30, 3)
    assert prepared.mirrored.sum() * 2 == len(prepared.mirrored)
    original = np.flatnonzero(~prepared.mirrored)
    mirrored = np.flatnonzero(prepared.mirrored)
    # _assemble stores each clip's windows followed by their mirrored copies
    first_clip = original[prepared.clip[original] == 0]
    first_mirror = mirrored[prepared.clip[mirrored] == 0]
    m, c = cmg_data.mirror(spec, prepared.motion[first_clip], prepared.command[first_clip])
    np.testing.assert_allclose(prepared.motion[first_mirror], m, atol=1e-6)
    np.testing.assert_allclose(prepared.command[first_mirror], c, atol=1e-6)
    back, _ = cmg_data.mirror(spec, m, c)
    np.testing.assert_allclose(back, prepared.motion[first_clip], atol=1e-6)
    hip = spec.joint_index("left_hip_pitch_joint")
    np.testing.assert_allclose(m[..., spec.joint_index("right_hip_pitch_joint")], prepared.motion[first_clip][..., hip],
                               atol=1e-6)


def test_prepare_refuses_a_crafted_pickle(spec, tmp_path, capsys):
    """cmg-prepare on a .pkl that would create a file when unpickled: exit 2 with the reason, the file not created."""
    marker = tmp_path / "payload_ran"
    evil = malicious_pickle(tmp_path / "evil.pkl", marker, walking_clip(spec, 2.0, 0.5), spec)
    with pytest.raises(SystemExit) as exit_info:
        cmg_data.main(["--motions", str(evil), "--out", str(tmp_path / "out.npz")])
    assert exit_info.value.code == 2 and "refused to load io.open" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "out.npz").exists()


def test_split_is_by_clip_and_stats_use_training_clips(prepared):
    """No clip has windows on both sides of the split; the std floor holds."""
    assert set(prepared.clip[prepared.validation]).isdisjoint(prepared.clip[~prepared.validation])
    assert len(prepared.split(True)) > 0
    assert np.all(prepared.stats.motion_std >= cmg_data.STD_FLOOR)
    train = prepared.command[~prepared.validation].reshape(-1, 3)
    np.testing.assert_allclose(prepared.stats.command_min, train.min(0), atol=1e-6)


def test_standing_frame_is_the_still_zero_command_pose(spec, prepared):
    """The standing frame is the clips' still pose (default pose here) with zero velocity."""
    np.testing.assert_allclose(prepared.standing_frame[:29], spec.default_pose, atol=1e-6)
    assert np.all(prepared.standing_frame[29:] == 0.0)


def test_commands_from_root_velocity_when_unlabelled(spec):
    """Without labels the command is the smoothed root-frame velocity (yaw rate included)."""
    clip = walking_clip(spec, 6.0, 0.5, 0.3)
    clip.command = None
    command = cmg_data.commands_of(clip, smoothing=0.5)[100:-50]
    np.testing.assert_allclose(command, np.tile([0.5, 0.0, 0.3], (len(command), 1)), atol=0.02)


def test_speed_balanced_weights(prepared):
    """Every (speed, yaw) bin gets the same total weight, up to the standing-start bonus."""
    idx = prepared.split(False)
    weights = cmg_data.sample_weights(prepared, idx, standing_start_weight=1.0)
    command = prepared.command[idx].mean(1)
    speed_bin = np.digitize(np.hypot(command[:, 0], command[:, 1]), (0.1, 0.3, 0.6, 1.0, 1.4, 1.8))
    totals = [weights[speed_bin == b].sum() for b in np.unique(speed_bin)]
    assert np.ptp(totals) < 1e-9 or len(totals) == 1 or max(totals) / min(totals) < 3.01
    assert weights.sum() == pytest.approx(1.0)
    bonus = cmg_data.sample_weights(prepared, idx, standing_start_weight=5.0)
    assert bonus.max() > weights.max()


def test_legacy_pt_layout(spec, tmp_path):
    """The original cmg_training_data.pt layout reads, with its stats at 50 Hz and resampled from 30 Hz."""
    rng = np.random.default_rng(0)
    samples = [{"motion": torch.tensor(rng.standard_normal((31, 58)) * 0.1, dtype=torch.float32),
                "command": torch.tensor(np.tile([0.8, 0.0, 0.1], (30, 1)), dtype=torch.float32)} for _ in range(4)]
    stats = {"motion_mean": torch.zeros(58), "motion_std": torch.full((58,), 0.5),
             "command_min": torch.tensor([-0.2, -1.0, -2.0]), "command_max": torch.tensor([3.0, 1.0, 2.0])}
    path = tmp_path / "cmg_training_data.pt"
    torch.save({"samples": samples, "stats": stats}, path)
    at50 = cmg_data.prepare_from_legacy_pt(spec, path, fps=50.0, stride=15)
    np.testing.assert_allclose(at50.stats.motion_std, 0.5)
    np.testing.assert_allclose(at50.stats.command_max, [3.0, 1.0, 2.0])
    at30 = cmg_data.prepare_from_legacy_pt(spec, path, fps=30.0, stride=5)
    assert at30.summary["frames"] == 4 * 51  # 1 s at 30 Hz (31 frames) is 51 frames at 50 Hz
    broken = tmp_path / "broken.pt"
    torch.save({"samples": [{"motion": torch.zeros(31, 40), "command": torch.zeros(30, 3)}], "stats": stats}, broken)
    with pytest.raises(MotionError, match="sample 0"):
        cmg_data.prepare_from_legacy_pt(spec, broken, fps=50.0)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(MotionError, match="not a readable"):
        cmg_data.prepare_from_legacy_pt(spec, tmp_path / "junk.pt", fps=50.0)


def test_prepared_data_file_round_trip(prepared, tmp_path):
    """save_data/load_data keep everything."""
    loaded = cmg_data.load_data(cmg_data.save_data(prepared, tmp_path / "d.npz"))
    np.testing.assert_array_equal(loaded.motion, prepared.motion)
    np.testing.assert_array_equal(loaded.validation, prepared.validation)
    np.testing.assert_array_equal(loaded.stats.motion_std, prepared.stats.motion_std)
    assert loaded.summary == json.loads(json.dumps(prepared.summary))
    with pytest.raises(MotionError):
        cmg_data.load_data(tmp_path / "missing.npz")


def test_schedules_decay_without_collapse():
    """Teacher forcing decays to its end value on time; the LR warms up then follows a cosine to its floor."""
    config = TrainConfig(epochs=100, teacher_decay=0.6, lr=3e-4, lr_min_ratio=0.05, warmup_epochs=2)
    assert teacher_probability(config, 0.0) == 1.0
    assert teacher_probability(config, 30.0) == pytest.approx(0.5)
    assert teacher_probability(config, 60.0) == teacher_probability(config, 99.0) == 0.0
    rates = [learning_rate(config, e) for e in np.linspace(0, 100, 201)]
    assert max(rates) == pytest.approx(3e-4)
    assert rates[-1] == pytest.approx(1.5e-5)
    assert learning_rate(config, 60.0) > 1e-4  # still learning when teacher forcing has ended


def test_rollout_feeds_predictions_back_when_free_running():
    """With teacher probability 0 the loss depends on the model's own predictions; with 1 it does not."""
    torch.manual_seed(0)
    net = CmgNet(TINY)
    motion, command = torch.randn(4, 6, 58), torch.randn(4, 5, 3)
    forced = rollout_loss(net, motion, command, 1.0)
    one_step = torch.mean(torch.stack([torch.mean((net(motion[:, t], command[:, t]) - motion[:, t + 1]) ** 2)
                                       for t in range(5)]))
    assert forced.item() == pytest.approx(one_step.item(), rel=1e-5)
    assert rollout_loss(net, motion, command, 0.0).item() != pytest.approx(forced.item(), rel=1e-3)


def test_limit_penalty_counts_only_the_excess_beyond_the_limits(prepared, tmp_path):
    """Squared excess per joint, summed, batch-averaged; rollout_loss adds it with its weight; the trainer's limits
    are config/g1.yaml's less the margin, normalized like the data."""
    lower, upper = torch.tensor([-1.0, -2.0]), torch.tensor([1.0, 2.0])
    prediction = torch.tensor([[0.5, 1.9, 7.0], [1.5, -2.5, -7.0]])  # third column: a velocity, not checked
    assert limit_penalty(prediction, (lower, upper)).item() == pytest.approx((0.5 ** 2 + 0.5 ** 2) / 2)
    assert limit_penalty(prediction[:1], (lower, upper)).item() == 0.0
    torch.manual_seed(0)
    net = CmgNet(TINY)
    motion, command = torch.randn(4, 3, 58), torch.randn(4, 2, 3)
    tight = (torch.full((29,), -0.1), torch.full((29,), 0.1))
    plain = rollout_loss(net, motion, command, 1.0)
    with_limits = rollout_loss(net, motion, command, 1.0, limits=tight, limit_weight=2.0)
    penalty = torch.mean(torch.stack([limit_penalty(net(motion[:, t], command[:, t]), tight) for t in range(2)]))
    assert with_limits.item() == pytest.approx(plain.item() + 2.0 * penalty.item(), rel=1e-5)
    trainer = Trainer(prepared, TrainConfig(model=TINY, limit_margin=0.05), tmp_path)
    stats, spec = prepared.stats, load_robot_spec()
    np.testing.assert_allclose(trainer.limits[1].numpy() * stats.motion_std[:29] + stats.motion_mean[:29],
                               spec.upper_limits - 0.05, atol=1e-5)


def test_training_learns_and_resumes_exactly(prepared, tmp_path):
    """A tiny model's free-running validation error falls; stopping and resuming gives the same weights."""
    config = TrainConfig(epochs=4, windows_per_epoch=2048, batch=64, lr=3e-3, warmup_epochs=0.5, model=TINY)
    straight = Trainer(prepared, config, tmp_path / "a")

    def free_run_error(trainer):
        idx = trainer.train_idx
        with torch.no_grad():
            return rollout_loss(trainer.net, trainer.motion_n[idx], trainer.command_n[idx], 0.0).item()

    before = free_run_error(straight)
    straight.run(progress_bar=False)
    assert free_run_error(straight) < 0.5 * before
    assert (tmp_path / "a" / "best.pt").exists() and (tmp_path / "a" / "tb").is_dir()

    first = Trainer(prepared, config, tmp_path / "b")
    first.run(progress_bar=False, stop_after=2)
    resumed = Trainer(prepared, config, tmp_path / "b")
    resumed.resume(tmp_path / "b" / "latest.pt")
    assert resumed.epoch == 2
    resumed.run(progress_bar=False)
    for a, b in zip(straight.net.parameters(), resumed.net.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_weights_only_copy_exports_and_resumes(spec, prepared, tmp_path):
    """slim_checkpoint on a cmg-train checkpoint: no AdamW state, under half the size, the same export, and the
    trainer resumes it at its epoch (AdamW restarting) and finishes the run."""
    config = TrainConfig(epochs=2, windows_per_epoch=64, batch=32, model=TINY)
    full = Trainer(prepared, config, tmp_path / "a")
    full.run(progress_bar=False, stop_after=1)
    slim_path = tmp_path / "b" / "latest.pt"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "slim_checkpoint.py"),
                             str(tmp_path / "a" / "latest.pt"), str(slim_path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    slim = torch.load(slim_path, map_location="cpu", weights_only=True)
    assert "optimizer" not in slim and slim_path.stat().st_size < (tmp_path / "a" / "latest.pt").stat().st_size / 2
    assert export(slim, tmp_path / "slim.onnx", spec) < 1e-5
    for a, b in zip(full.net.state_dict().values(), slim["net"].values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    resumed = Trainer(prepared, config, tmp_path / "b")
    resumed.resume(slim_path)
    assert resumed.epoch == 1
    resumed.run(progress_bar=False)
    assert resumed.epoch == 2


def test_export_matches_torch_and_carries_metadata(spec, prepared, tmp_path):
    """ONNX Runtime output equals torch within 1e-5 for batches and single frames; the node's loader accepts it."""
    trainer = Trainer(prepared, TrainConfig(epochs=1, windows_per_epoch=64, batch=32, model=TINY), tmp_path)
    trainer.run(progress_bar=False)
    state = trainer.checkpoint()
    path = tmp_path / "cmg.onnx"
    difference = export(state, path, spec)
    assert difference < 1e-5
    runtime = CmgRuntime(path, spec)
    np.testing.assert_allclose(runtime.standing_frame, prepared.standing_frame, atol=1e-6)
    np.testing.assert_allclose(runtime.command_min, prepared.stats.command_min, atol=1e-6)
    assert runtime.metadata["training_data"]["clips"] == prepared.summary["clips"]
    model = NormalizedCmg(trainer.net.eval(), *(torch.as_tensor(np.asarray(v), dtype=torch.float32) for v in (
        prepared.stats.motion_mean, prepared.stats.motion_std, prepared.stats.command_min,
        prepared.stats.command_max)))
    frames = prepared.motion[:5, 0].astype(np.float64)
    commands = prepared.command[:5, 0].astype(np.float64)
    with torch.no_grad():
        expected = model(torch.as_tensor(frames, dtype=torch.float32),
                         torch.as_tensor(commands, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(runtime.step(frames, commands), expected, atol=1e-5)


def test_gait_metrics_on_known_signals():
    """Period of a 1.1 s oscillation; leg odometry of a stance foot fixed in the world under a body walking and
    turning is the body's velocity and yaw rate."""
    fps = 50.0
    t = np.arange(1500) / fps
    period, strength = gait_period(np.sin(2 * np.pi * t / 1.1), fps)
    assert period == pytest.approx(1.1, abs=0.02) and strength > 0.9
    assert gait_period(np.zeros(500), fps) == (0.0, 0.0)
    ankles, yaws = np.zeros((200, 2, 3)), np.zeros((200, 2))
    ankles[:, 0, 0] = 0.2 - 0.4 * np.arange(200) / fps  # stance foot (lower) moves back under the body
    ankles[:, 0, 2], ankles[:, 1, 2] = -0.7, -0.6
    np.testing.assert_allclose(leg_odometry(ankles, yaws, fps), [0.4, 0.0, 0.0], atol=1e-9)
    # The body moves at (0.3, -0.1) m/s in its own frame and turns at -0.6 rad/s; the left foot stays at (0.1, 0.1).
    v, w, foot = np.array([0.3, -0.1]), -0.6, np.array([0.1, 0.1])
    substeps = 100
    position, heading = np.zeros(2), 0.0
    for t in range(200):
        c, s = np.cos(heading), np.sin(heading)
        ankles[t, 0, :2] = [c * (foot - position)[0] + s * (foot - position)[1],
                            -s * (foot - position)[0] + c * (foot - position)[1]]
        yaws[t, 0] = -heading
        for _ in range(substeps):
            c, s = np.cos(heading), np.sin(heading)
            position += np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]]) / (fps * substeps)
            heading += w / (fps * substeps)
    np.testing.assert_allclose(leg_odometry(ankles, yaws, fps), [0.3, -0.1, -0.6], atol=0.01)


def test_evaluation_flags_a_generator_that_stands_still(spec, prepared, tmp_path):
    """An untrained model that does not walk fails the moving rows; the CLI writes the report and exits 1."""
    trainer = Trainer(prepared, TrainConfig(epochs=1, windows_per_epoch=64, batch=32, model=TINY), tmp_path)
    trainer.run(progress_bar=False)
    path = tmp_path / "cmg.onnx"
    export(trainer.checkpoint(), path, spec)
    runtime = CmgRuntime(path, spec)
    commands = grid(runtime, [(0.0, 0.0, 0.0), (0.5, 0.0, 0.0), (9.0, 0.0, 0.0)])
    assert commands == [(0.0, 0.0, 0.0), (0.5, 0.0, 0.0)]  # outside the range: left out
    edge = float(runtime.command_max[0])
    near = grid(runtime, [(edge + 0.02, 0.0, 0.0), (edge + 0.1, 0.0, 0.0)])
    assert near == [(round(edge, 3), 0.0, 0.0)]  # just outside: clamped as the node clamps
    rows, clamped = evaluate(runtime, commands, seconds=6.0)
    assert clamped.shape == (1 + 7 * 50, 2, 58)
    assert not rows[1].passed or rows[1].periodicity > 0.4
    out = tmp_path / "report"
    result = subprocess.run([sys.executable, "-m", "twist_training.cmg.evaluate", "--model", str(path), "--out",
                             str(out), "--seconds", "4", "--command", "0", "0", "0", "--command", "0.5", "0", "0"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    assert "| +0.50 |" in (out / "report.md").read_text()
    assert (out / "summary.png").stat().st_size > 10_000
    assert len(json.loads((out / "report.json").read_text())["rows"]) == 2


def test_evaluation_survives_a_model_that_returns_nan(spec, tmp_path):
    """Non-finite outputs are reported (row not finite, fails) and the free run goes on from standing, also
    while the standing hold settles during the first second (where the model runs on its own frames); once
    settled, the standing row no longer consults the model."""
    runtime = CmgRuntime(write_toy_cmg(tmp_path / "nan.onnx", spec, nan_above_vx=-1.0), spec)
    rows, clamped = evaluate(runtime, [(0.0, 0.0, 0.0), (0.5, 0.0, 0.0)], seconds=2.0)
    assert rows[0].finite and rows[0].passed
    assert not rows[1].finite and not rows[1].passed
    assert np.all(np.isfinite(clamped))


def test_shipped_model_stands_with_the_standing_hold(spec):
    """The shipped CMG alone steps in place at zero command; with the node's standing hold it stands, and a stop
    from 0.5 m/s settles smoothly (joint speeds no higher than walking) onto the standing frame in 0.8 s."""
    runtime = CmgRuntime(ROOT / "models" / "cmg" / "cmg.onnx", spec)
    alone, held = (evaluate(runtime, [(0.0, 0.0, 0.0)], seconds=8.0, hold=hold)[0][0]
                   for hold in (StandingHold(enabled=False), StandingHold()))
    assert alone.ankle_lift > 0.03 and not alone.passed
    assert held.ankle_lift == 0.0 and held.passed
    run = CmgFreeRun(runtime)
    state, frames = run.start(), []
    for k in range(300):
        state, _ = run.step(state, [0.5, 0.0, 0.0] if k < 200 else [0.02, 0.0, 0.0])  # inside the deadband
        frames.append(state.motion)
    frames = np.array(frames)
    walking, stopping = np.abs(frames[100:200, 29:]).max(), np.abs(frames[200:, 29:]).max()
    assert stopping <= 1.2 * walking
    np.testing.assert_array_equal(frames[241:], np.broadcast_to(run.standing, (59, 58)))
    lift = ankle_positions(spec, frames[150:200, :29])[:, :, 2]
    assert np.ptp(lift, axis=0).max() > 0.03  # it was walking


def test_command_lead_shifts_labels_earlier(spec):
    """--command-lead: each frame gets the command ``lead`` seconds later; the last command repeats at the end."""
    clip = walking_clip(spec, 4.0, 0.5)  # standing 1 s, then 0.5 m/s
    labels = cmg_data.commands_of(clip, lead=0.5)
    np.testing.assert_array_equal(labels[:25, 0], 0.0)
    np.testing.assert_array_equal(labels[25:, 0], 0.5)  # the start is announced 0.5 s (25 frames) before frame 50
    np.testing.assert_array_equal(cmg_data.commands_of(clip)[:50, 0], 0.0)
    assert len(labels) == clip.num_frames
