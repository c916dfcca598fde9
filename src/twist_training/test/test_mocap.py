"""Motion-capture preparation: the clip quality meter, the automatic repairs and cuts, mocap-prepare's outputs,
and the failure-weighted segment sampling of the motion library. Every clip is synthetic, written by the test."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from twist_core.model import standing_height
from twist_core.motion import build_motion, load_motion
from twist_core.motion_formats import write_motion
from twist_core.toy_models import walking_clip
from twist_training.mocap.quality import ClipMeter, QualityLimits, repair
from twist_training.tracking.references import MotionLibrary, Sampling


@pytest.fixture(scope="module")
def meter(spec):
    """The G1 model with its floor."""
    return ClipMeter(spec)


def _standing(spec, seconds=8.0, fps=50.0):
    """Standing in the default pose, feet on the floor, arms swinging slowly."""
    n = int(seconds * fps) + 1
    t = np.arange(n) / fps
    joint_pos = np.tile(spec.default_pose, (n, 1))
    joint_pos[:, spec.joint_index("left_shoulder_pitch_joint")] += 0.3 * np.sin(2 * np.pi * 0.5 * t)
    root = np.column_stack([np.zeros(n), np.zeros(n), np.full(n, standing_height(spec, spec.default_pose))])
    quat = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    return root, quat, joint_pos


def test_a_clean_clip_is_kept_whole(spec, meter):
    """Standing with the feet on the floor: no offset, nothing clamped or cut, one piece."""
    root, quat, joints = _standing(spec)
    pieces, report = repair(build_motion(spec, 50.0, root, quat, joints), spec, meter, QualityLimits(), "clean")
    assert len(pieces) == 1 and pieces[0].num_frames == len(joints)
    assert abs(report.height_offset) < 1e-6 and report.clamped_frames == 0 and not report.cut
    assert report.floor_penetration < 1e-3 and report.longest_float == 0.0 and not report.excluded


def test_height_offset_and_small_limit_excess_are_fixed(spec, meter):
    """A pelvis 4 cm too low (feet 4 cm in the floor) is lifted; an elbow 0.05 rad past its range is clamped."""
    root, quat, joints = _standing(spec)
    root[:, 2] -= 0.04
    elbow = spec.joint_index("left_elbow_joint")
    bump = np.sin(np.pi * np.clip((np.arange(len(joints)) - 100) / 100, 0, 1))  # 2-4 s, smooth
    joints[:, elbow] += bump * (spec.upper_limits[elbow] + 0.05 - spec.default_pose[elbow])
    beyond = int(np.sum(joints[:, elbow] > spec.upper_limits[elbow]))
    pieces, report = repair(build_motion(spec, 50.0, root, quat, joints), spec, meter, QualityLimits(), "low")
    assert report.height_offset == pytest.approx(0.04, abs=1e-3)
    assert beyond > 5 and report.clamped_frames == beyond and report.clamped_joints == ["left_elbow_joint"]
    assert len(pieces) == 1 and not report.cut
    assert pieces[0].joint_pos[:, elbow].max() <= spec.upper_limits[elbow] + 1e-12
    assert pieces[0].root_pos[0, 2] == pytest.approx(root[0, 2] + 0.04, abs=1e-3)
    assert pieces[0].metadata["height_offset"] == pytest.approx(0.04, abs=1e-3)


def test_tilted_stance_feet_are_levelled(spec, meter):
    """Standing with both ankles pitched 0.1 rad from flat (soles tilted, toes down, on the floor): the ankles are
    corrected so the soles are level, the report says how tilted they were; nothing else changes."""
    root, quat, joints = _standing(spec)
    pitch = [spec.joint_index(f"{side}_ankle_pitch_joint") for side in ("left", "right")]
    joints[:, pitch] += 0.1
    pieces, report = repair(build_motion(spec, 50.0, root, quat, joints), spec, meter, QualityLimits(), "tilted")
    assert report.flattened_frames == len(joints)
    assert report.foot_tilt_median == pytest.approx(0.1, abs=0.01)
    np.testing.assert_allclose(pieces[0].joint_pos[:, pitch], joints[:, pitch] - 0.1, atol=1e-3)
    others = [j for j in range(spec.num_joints) if j not in pitch]
    np.testing.assert_allclose(pieces[0].joint_pos[:, others], joints[:, others], atol=1e-12)


def test_infeasible_stretches_are_cut_with_the_reason(spec, meter):
    """A 0.6 s float (both feet 10 cm up) and a one-frame joint glitch are cut; short pieces are dropped."""
    root, quat, joints = _standing(spec, seconds=16.0)
    root[300:330, 2] += 0.10                                   # 6.0-6.6 s in the air
    joints[600, spec.joint_index("right_elbow_joint")] -= 1.2  # 12.0 s: 30 rad/s, within its range
    pieces, report = repair(build_motion(spec, 50.0, root, quat, joints), spec, meter, QualityLimits(), "bad")
    reasons = {c["reason"] for c in report.cut}
    assert reasons == {"floating (both feet off the floor)", "joint faster than the motors"}
    floating = next(c for c in report.cut if c["reason"].startswith("floating"))
    assert floating["from_s"] == pytest.approx(6.0, abs=0.05) and floating["to_s"] == pytest.approx(6.6, abs=0.05)
    assert report.longest_float == pytest.approx(0.6, abs=0.05) and report.peak_joint == "right_elbow_joint"
    # kept: 0-5.75 s, 6.85-11.73 s, 12.27-16 s (0.25 s margins); every piece feasible and >= 3 s
    assert len(pieces) == 3 and all(p.duration >= 3.0 for p in pieces)
    assert [p.metadata["piece_start_s"] for p in pieces] == pytest.approx([0.0, 6.86, 12.28], abs=0.05)
    for piece in pieces:
        _, again = repair(piece, spec, meter, QualityLimits(), "piece")
        assert not again.cut


def test_a_clip_with_too_little_left_is_excluded(spec, meter):
    """A clip that floats most of the time is excluded, with the reason."""
    root, quat, joints = _standing(spec, seconds=8.0)
    root[50:350, 2] += 0.2
    pieces, report = repair(build_motion(spec, 50.0, root, quat, joints), spec, meter, QualityLimits(), "float")
    assert pieces == [] and report.excluded


def test_mocap_prepare_writes_clips_lists_and_report(spec, tmp_path):
    """mocap-prepare on a CSV dataset of two clips: pieces, motion lists, report, attribution, exit codes."""
    source = tmp_path / "dataset"
    (source / "dance").mkdir(parents=True)
    walk = walking_clip(spec, 6.0, 0.4, fps=60.0)
    write_motion(walk, source / "dance" / "a.csv", spec, "csv")
    root, quat, joints = _standing(spec, seconds=8.0, fps=60.0)
    write_motion(build_motion(spec, 60.0, root, quat, joints), source / "dance" / "b.csv", spec, "csv")
    split = tmp_path / "split.yaml"
    split.write_text(yaml.safe_dump({"dataset": "Test", "attribution": "Test data, CC BY 4.0", "license": "CC BY 4.0",
                                     "format": "csv", "fps": 60, "train": ["dance/a.csv"],
                                     "validation": ["dance/b.csv"]}))
    out = tmp_path / "prepared"
    command = [sys.executable, "-m", "twist_training.mocap.prepare", "--split", split, "--source", source, "--out", out]
    result = subprocess.run(list(map(str, command)), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    listed = yaml.safe_load((out / "train.yaml").read_text())["motions"]
    assert [m["file"] for m in listed] == ["train/dance_a.npz"]
    motion = load_motion(out / "train" / "dance_a.npz", spec)
    assert motion.fps == 50.0 and motion.metadata["attribution"] == "Test data, CC BY 4.0"
    report = json.loads((out / "report.json").read_text())
    assert [r["name"] for r in report["validation"]] == ["dance/b.csv"]
    assert "Test data, CC BY 4.0" in (out / "PROVENANCE.md").read_text()
    assert "## train: 1 clips" in (out / "report.md").read_text()
    split.write_text(yaml.safe_dump({"train": ["dance/a.csv"], "validation": ["dance/a.csv"]}))
    result = subprocess.run(list(map(str, command)), capture_output=True, text=True)
    assert result.returncode == 1 and "in both train and validation" in result.stderr


def test_segment_sampling_follows_failures(spec):
    """Segment sampling: weight shared by a clip's segments; failures draw starts to (and before) their segment."""
    motions = [walking_clip(spec, 7.9, 0.3), walking_clip(spec, 3.9, 0.5)]   # 4 and 2 segments of 2 s
    library = MotionLibrary(motions, [1.0, 1.0], ["a", "b"], sampling=Sampling(mode="segment", uniform_share=0.2))
    np.testing.assert_allclose(library.segment_probabilities().numpy(), [0.125] * 4 + [0.25] * 2)
    generator = torch.Generator().manual_seed(0)
    ids, starts = library.sample(20000, generator)
    assert abs((ids == 1).float().mean().item() - 0.5) < 0.02
    failed_at = torch.tensor([2 * 100 + 30] * 8)  # clip 0, segment 2
    library.record_episodes(torch.zeros(8, dtype=torch.long), torch.zeros(8, dtype=torch.long), failed_at,
                            torch.ones(8, dtype=torch.bool), 500)
    p = library.segment_probabilities().numpy()
    # 80 % by failures: segment 2 (8) and its predecessor (4 = 8 x lookback 0.5), 20 % by weight
    np.testing.assert_allclose(p, 0.2 * np.array([0.125] * 4 + [0.25] * 2) + 0.8 * np.array([0, 4, 8, 0, 0, 0]) / 12)
    ids, starts = library.sample(20000, generator)
    in_segment_2 = ((ids == 0) & (starts >= 200) & (starts < 300)).float().mean().item()
    assert abs(in_segment_2 - p[2]) < 0.02
    library.record_episodes(torch.tensor([1]), torch.tensor([0]), torch.tensor([150]), torch.tensor([False]), 500)
    np.testing.assert_allclose(library.segment_failures.numpy(), np.array([0, 4, 8, 0, 0, 0]) * 0.999, rtol=1e-6)
    with pytest.raises(ValueError, match="mode"):
        Sampling(mode="hard")


def test_sampler_state_restores_only_into_the_same_references(spec):
    """A checkpoint's sampling state (segment failures, clip difficulties) restores into a library of the same
    clips and segments; other clips, other segments, NaN, negative values or no state leave it as it starts."""
    motions = [walking_clip(spec, 7.9, 0.3), walking_clip(spec, 3.9, 0.5)]
    sampling = Sampling(mode="segment", uniform_share=0.2)
    library = MotionLibrary(motions, [1.0, 1.0], ["a", "b"], sampling=sampling)
    library.record_episodes(torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long),
                            torch.tensor([230] * 3), torch.ones(3, dtype=torch.bool), 500)
    library.difficulty[1] = 2.5
    state = library.sampler_state()
    fresh = MotionLibrary(motions, [1.0, 1.0], ["a", "b"], sampling=sampling)
    assert fresh.load_sampler_state(state)
    np.testing.assert_allclose(fresh.segment_probabilities().numpy(), library.segment_probabilities().numpy())
    assert fresh.difficulty.tolist() == [9.0, 2.5]
    state["segment_failures"][0] = 7.0  # the restored state is a copy: later changes to either stay apart
    assert fresh.segment_failures[0] == 0.0
    start = MotionLibrary(motions, [1.0, 1.0], ["a", "b"], sampling=sampling).segment_probabilities().numpy()
    bad = [None, "text", {**state, "names": ["b", "a"]}, {**state, "segment_failures": torch.zeros(5)},
           {**state, "difficulty": torch.tensor([float("nan"), 9.0])}, {**state, "segment_failures": -state[
               "segment_failures"] - 1}, {key: value for key, value in state.items() if key != "difficulty"}]
    for other in bad:
        other_library = MotionLibrary(motions, [1.0, 1.0], ["a", "b"], sampling=sampling)
        assert not other_library.load_sampler_state(other)
        np.testing.assert_allclose(other_library.segment_probabilities().numpy(), start)
        assert other_library.difficulty.tolist() == [9.0, 9.0]
    shorter = MotionLibrary(motions, [1.0, 1.0], ["a", "b"], sampling=Sampling(mode="segment", segment_seconds=1.0))
    assert not shorter.load_sampler_state(state)


def test_tiny_training_run_on_two_prepared_clips(spec, tmp_path, capsys):
    """mocap-prepare's motion list, weighted in a mixture with a plain clip, trains a teacher for 2 iterations with
    segment sampling (failures recorded per segment); a second run starts from it with --init-from, its
    observation normalizers refit."""
    from pathlib import Path

    from twist_core.motion import save_motion
    from twist_training.mocap.prepare import main as prepare
    from twist_training.tracking import train as tracking
    from twist_training.tracking.checkpoints import latest_checkpoint, load_checkpoint
    from twist_training.tracking.config import ConfigError, load_config
    from twist_training.tracking.factories import make_library

    source = tmp_path / "dataset"
    (source / "karate").mkdir(parents=True)
    for name, vx in (("a", 0.3), ("b", 0.0)):
        write_motion(walking_clip(spec, 5.0, vx, fps=60.0), source / "karate" / f"{name}.csv", spec, "csv")
    split = {"format": "csv", "fps": 60, "train": ["karate/a.csv", "karate/b.csv"]}
    (tmp_path / "split.yaml").write_text(yaml.safe_dump(split))
    assert prepare(["--split", str(tmp_path / "split.yaml"), "--source", str(source), "--out",
                    str(tmp_path / "prepared")]) == 0
    save_motion(walking_clip(spec, 4.0, 0.5), tmp_path / "walk.npz")
    smoke = Path(__file__).resolve().parents[3] / "config" / "tracking" / "smoke.yaml"
    config = {**yaml.safe_load(smoke.read_text()), "references": {
        "motions": [{"path": str(tmp_path / "prepared" / "train.yaml"), "weight": 4.0}, str(tmp_path / "walk.npz")],
        "sampling": {"mode": "segment", "segment_seconds": 1.0}}}
    (tmp_path / "mocap.yaml").write_text(yaml.safe_dump(config))
    runner = tracking.train("teacher", load_config(tmp_path / "mocap.yaml"), tmp_path / "teacher")
    library = runner.env.library
    assert library.names == ["karate_a.npz", "karate_b.npz", "walk.npz"]
    np.testing.assert_allclose(library.weights.numpy(), [0.5 * 4, 0.5 * 4, 1.0], rtol=1e-6)  # 5 s / 10 x 4
    assert library.sampling.mode == "segment" and len(library.segment_failures) == 6 + 6 + 5  # 251, 251, 201 frames
    assert latest_checkpoint(tmp_path / "teacher").name == "model_1.pt"
    saved = load_checkpoint(tmp_path / "teacher" / "model_1.pt")["infos"]["sampler"]
    assert saved["names"] == library.names and torch.equal(saved["segment_failures"], library.segment_failures)
    capsys.readouterr()
    resumed = tracking.train("teacher", load_config(tmp_path / "mocap.yaml", {"iterations": 2}), tmp_path / "teacher")
    assert "starts afresh" not in capsys.readouterr().out
    assert torch.equal(resumed.env.library.segment_failures, saved["segment_failures"])  # no iteration left to run
    again = tracking.train("teacher", load_config(tmp_path / "mocap.yaml", {"iterations": 1}),
                           tmp_path / "fine", init_from=tmp_path / "teacher", refit=True)
    out = capsys.readouterr().out
    assert f"teacher: actor and critic from {tmp_path / 'teacher'}" in out
    assert "teacher's actor: observation normalizer refit on" in out and "teacher's critic: obs" in out
    first = load_checkpoint(tmp_path / "teacher" / "model_1.pt")["actor_state_dict"]
    start = load_checkpoint(tmp_path / "fine" / "model_0.pt")["actor_state_dict"]
    assert again.current_learning_iteration == 0 and set(start) == set(first)
    with pytest.raises(ConfigError, match="needs --init-from"):
        tracking.train("teacher", load_config(tmp_path / "mocap.yaml"), tmp_path / "fine2", refit=True)
    warm = tracking.train("teacher", load_config(tmp_path / "mocap.yaml", {"iterations": 0}), tmp_path / "warm",
                          init_from=tmp_path / "teacher", refit=True, imitate_rounds=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("upper-body warm start")]
    assert [line.split(":")[0] for line in lines] == ["upper-body warm start 1/2", "upper-body warm start 2/2"]
    for line in lines:  # each round fits its samples: the upper body's error drops
        before, after = (float(v) for v in line.split("upper body ")[1].rstrip(")").split(" -> "))
        assert after < before
    assert warm.current_learning_iteration == 0
    for bad in ({"imitate_rounds": 1}, {"imitate_rounds": -1, "init_from": tmp_path / "teacher"}):
        with pytest.raises(ConfigError, match="needs --init-from|rounds >= 0"):
            tracking.train("teacher", load_config(tmp_path / "mocap.yaml"), tmp_path / "fine3", **bad)
    with pytest.raises(ConfigError, match="sampling mode must be"):
        make_library(load_config(tmp_path / "mocap.yaml", {"references": {
            "sampling": {"mode": "hard"}}}), spec, "cpu")
