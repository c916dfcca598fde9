"""walk-dataset and walk-physics-check, run as users run them (subprocesses), on small inputs."""

import json
import subprocess
import sys

import numpy as np
import pytest

from twist_core.motion import load_motion
from twist_training.walking.dataset import CommandRanges, sample_command, sample_timeline


def run(*args):
    """Run a module CLI; return (exit code, output)."""
    result = subprocess.run([sys.executable, "-m", *map(str, args)], capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


def test_command_sampling_stays_in_the_envelope():
    """Sampled commands respect the per-axis ranges and the combined envelope; standing is sampled too."""
    ranges = CommandRanges()
    rng = np.random.default_rng(0)
    commands = np.array([sample_command(rng, ranges) for _ in range(2000)])
    assert commands[:, 0].min() >= ranges.vx_min and commands[:, 0].max() <= ranges.vx_max
    assert np.abs(commands[:, 1]).max() <= ranges.vy_max and np.abs(commands[:, 2]).max() <= ranges.yaw_rate_max
    assert 0.1 < np.mean(~commands.any(axis=1)) < 0.2
    timeline = sample_timeline(np.random.default_rng(1), 10.0, 50.0, ranges)
    assert timeline.shape == (501, 3) and not timeline[:50].any()


def test_dataset_builder_is_deterministic(spec, tmp_path):
    """Two builds with the same seed write identical clips, a summary and a histogram."""
    for name in ("a", "b"):
        code, out = run("twist_training.walking.dataset", "--out", tmp_path / name, "--clips", 2, "--seconds", 3,
                        "--workers", 1, "--seed", 5)
        assert code == 0, out
        assert "2 clips meet every quality target" in out or "/2 clips meet" in out
    for clip in ("clip_0000.npz", "clip_0001.npz"):
        a, b = load_motion(tmp_path / "a" / clip, spec), load_motion(tmp_path / "b" / clip, spec)
        np.testing.assert_array_equal(a.joint_pos, b.joint_pos)
        np.testing.assert_array_equal(a.command, b.command)
        assert "quality" in a.metadata
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["clips"] == 2 and {"slip_max_m", "zmp_inside_min", "velocity_error_max"} <= set(summary)
    assert (tmp_path / "a" / "commands.png").read_bytes()[:4] == b"\x89PNG"


def test_single_walks_print_a_quality_table(spec, tmp_path):
    """--command makes one single walk per command (standing 1 s, then the command) and a table row for each."""
    code, out = run("twist_training.walking.dataset", "--out", tmp_path, "--seconds", 3, "--workers", 1,
                    "--command", 0, 0, 1.5, "--command", -0.5, 0, 0)
    assert code == 0, out
    assert "| 0, 0, 1.5 |" in out and "| -0.5, 0, 0 |" in out
    for clip, command in (("clip_0000.npz", [0, 0, 1.5]), ("clip_0001.npz", [-0.5, 0, 0])):
        motion = load_motion(tmp_path / clip, spec)
        assert not motion.command[:50].any() and (motion.command[50:] == command).all()
    assert json.loads((tmp_path / "summary.json").read_text())["clips"] == 2
    code, out = run("twist_training.walking.dataset", "--out", tmp_path, "--command", "nan", 0, 0)
    assert code == 2 and "finite" in out


@pytest.mark.parametrize("cli", ["twist_training.walking.dataset", "twist_training.walking.physics_check"])
def test_help(cli):
    """Both tools explain themselves."""
    code, out = run(cli, "--help")
    assert code == 0 and "usage" in out


def test_physics_check_walks_without_falling(spec):
    """PD + inverse-dynamics feed-forward + ankle stabilizer follows a 0.5 m/s walk in MuJoCo (5 s here)."""
    from twist_training.walking.generator import WalkGenerator
    from twist_training.walking.physics_check import track

    motion, plan = WalkGenerator(spec).generate(np.tile([0.5, 0.0, 0.0], (251, 1)))
    result = track(spec, motion, plan)
    assert not result.fell, result
    assert result.achieved_distance > 0.8 * result.reference_distance
    assert result.joint_rms_error < 0.05
