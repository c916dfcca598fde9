"""The workspace scripts of the closed loop: make demo's model check, the benchmark's, lint."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from twist_core.testing.lint import flake8, pydocstyle

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"
OURS = [SCRIPTS / name for name in ("demo.py", "bench_closed_loop.py", "bench_motions.py", "bench_teleop.py")]


def _run(*args, timeout=120):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def test_scripts_are_clean():
    """flake8 and pydocstyle, as every package's sources."""
    for check in (flake8, pydocstyle):
        code, report = check(OURS)
        assert code == 0, report


@pytest.mark.parametrize("script", ["demo.py", "bench_closed_loop.py"])
def test_missing_models_are_named_with_how_to_get_them(script, tmp_path):
    """Without the model files: exit 1, each missing file named with the command that makes it."""
    out = _run(SCRIPTS / script, "--policy", tmp_path / "policy.onnx", "--cmg", tmp_path / "cmg.onnx")
    assert out.returncode == 1
    assert f"missing policy file {tmp_path / 'policy.onnx'}" in out.stderr and "TOY=1" in out.stderr
    assert f"missing cmg file {tmp_path / 'cmg.onnx'}" in out.stderr and "cmg-export" in out.stderr
    assert _run(SCRIPTS / script, "--help").returncode == 0


def test_bench_teleop_names_a_missing_model_or_clip(tmp_path):
    """bench_teleop: a missing policy or an unreadable clip exits 1 naming it; --help works."""
    out = _run(SCRIPTS / "bench_teleop.py", "--motion", tmp_path / "clip.npz", "--policy", tmp_path / "policy.onnx")
    assert out.returncode == 1 and f"no such file {tmp_path / 'policy.onnx'}" in out.stderr
    out = _run(SCRIPTS / "bench_teleop.py", "--motion", tmp_path / "clip.npz")
    assert out.returncode == 1 and "no such file" in out.stderr and "clip.npz" in out.stderr
    assert _run(SCRIPTS / "bench_teleop.py", "--help").returncode == 0


def test_bench_motions_names_a_missing_policy_or_clip(tmp_path):
    """bench_motions: a missing policy or an unreadable clip exits 1 naming it; --help works."""
    out = _run(SCRIPTS / "bench_motions.py", "--motions", tmp_path / "clip.npz", "--policy", tmp_path / "policy.onnx")
    assert out.returncode == 1 and f"no policy file {tmp_path / 'policy.onnx'}" in out.stderr
    policy = tmp_path / "policy.onnx"
    policy.write_bytes(b"")
    out = _run(SCRIPTS / "bench_motions.py", "--motions", tmp_path / "clip.npz", "--policy", policy)
    assert out.returncode == 1 and "clip.npz" in out.stderr, out.stderr
    assert _run(SCRIPTS / "bench_motions.py", "--help").returncode == 0


def test_reference_loss_at_1_m_s_ends_in_a_controlled_stop(tmp_path):
    """The shipped student and CMG walking at 1.0 m/s, cmg_reference SIGKILLed 2 s in: the policy node's controlled
    stop (the CMG decelerating to a stand) brings the robot to rest without a fall (the hold-and-ramp fallback
    left it walking at 0.8 m/s 5 s after the loss, and fell at 0.4 m/s in the issue's runs)."""
    rows = tmp_path / "rows.json"
    models = SCRIPTS.parent / "models"
    out = _run(SCRIPTS / "bench_closed_loop.py", "--policy", models / "student" / "policy.onnx", "--cmg",
               models / "cmg" / "cmg.onnx", "--commands", "1.0,0,0", "--seconds", "6", "--kill-reference", "2",
               "--json", rows, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    row = json.loads(rows.read_text())["rows"][0]
    assert "error" not in row and "killed_at" in row, row
    assert not row["fell"] and row["final_speed"] < 0.1, row


def test_demo_fails_when_the_robot_falls(tmp_path):
    """make demo with the toy policy and no gantry: the robot falls and the bridge damps (TILT); exit code 3."""
    out = _run(SCRIPTS / "demo.py", "--toy", "--gantry", "off", "--out", tmp_path, timeout=600)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "demo: FAILED: the robot fell" in out.stdout and (tmp_path / "metrics.json").exists()
    assert json.loads((tmp_path / "metrics.json").read_text())["fell"]


@pytest.mark.parametrize("param, message", [("cmg_reference=1", "a parameter override is node:name=value"),
                                            ("cmg_refrence:heading_hold_gain=0", "no node cmg_refrence")])
def test_bench_rejects_bad_parameters(param, message):
    """--param is node:name=value for a node of the graph: anything else exits 2 with the reason, nothing runs."""
    out = _run(SCRIPTS / "bench_closed_loop.py", "--toy", "--param", param)
    assert out.returncode == 2 and message in out.stderr, out.stderr


def test_bench_takes_backwards_commands_as_written():
    """--commands -0.5,0,0 is a command, not an option: parsing gets past it to the (bad) --param."""
    out = _run(SCRIPTS / "bench_closed_loop.py", "--toy", "--commands", "-0.5,0,0", "0,-0.3,-1e-1",
               "--param", "cmg_reference=1")
    assert out.returncode == 2 and "a parameter override is node:name=value" in out.stderr, out.stderr
    out = _run(SCRIPTS / "bench_closed_loop.py", "--toy", "--commands", "-0.5,0")
    assert out.returncode == 2 and "three numbers" in out.stderr, out.stderr


def test_bench_with_pushes_writes_the_models_table(tmp_path):
    """The benchmark with the toy models (gantry kept): pushes on schedule, key-body error, the markdown table, the
    pelvis trace (CSV from the command's start, the paths plot)."""
    table, rows, trace = tmp_path / "table.md", tmp_path / "rows.json", tmp_path / "trace"
    out = _run(SCRIPTS / "bench_closed_loop.py", "--toy", "--seconds", "3", "--commands", "0.3,0,0", "--gantry",
               "on", "--push-velocity", "0.3", "--push-interval", "1", "--markdown", table, "--json", rows,
               "--param", "cmg_reference:heading_hold_gain=0.0", "--trace", trace, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(rows.read_text())["parameters"] == {"cmg_reference": {"heading_hold_gain": 0.0}}
    row = json.loads(rows.read_text())["rows"][0]
    assert not row["fell"] and row["pushes"] in (2, 3) and 0.0 < row["keybody_error"] < 0.1, row
    lines = table.read_text().splitlines()
    assert lines[0].startswith("| vx | vy | yaw rate | falls in 3 s |") and len(lines) == 3
    assert lines[2].startswith("| +0.30 | +0.00 | +0.00 | 0 |")
    pelvis = np.loadtxt(trace / "command_0.csv", delimiter=",", skiprows=1)
    assert pelvis.shape[1] == 4 and 0.0 <= pelvis[0, 0] < 0.1 and pelvis[-1, 0] == pytest.approx(3.0, abs=0.1)
    assert len(row["push_times"]) == row["pushes"] and all(0.9 < t < 3.1 for t in row["push_times"])
    assert (trace / "paths.png").stat().st_size > 10_000


def test_bench_motions_reports_a_refused_clip_and_goes_on(tmp_path):
    """A clip whose first frame has the right elbow stretched 1.5 rad from the standing robot: mocap_reference
    refuses it, and the bench says so in that clip's row (the node's reason) within seconds, not at the wall limit,
    and plays the next clip."""
    from twist_core import rotations
    from twist_core.motion import build_motion, save_motion
    from twist_core.robot import load_robot_spec

    spec = load_robot_spec()
    frames = 31
    joints = np.tile(spec.default_pose, (frames, 1))
    root = np.column_stack([np.zeros(frames), np.zeros(frames), np.full(frames, 0.76)])
    standing = save_motion(build_motion(spec, 30.0, root, rotations.from_yaw(np.zeros(frames)), joints),
                           tmp_path / "b_standing.npz")
    joints = joints.copy()
    elbow = spec.joint_names.index("right_elbow_joint")
    joints[:, elbow] -= 1.5  # 1.2 -> -0.3 rad: in its range
    raised = save_motion(build_motion(spec, 30.0, root, rotations.from_yaw(np.zeros(frames)), joints),
                         tmp_path / "a_raised.npz")
    rows = tmp_path / "rows.json"
    policy = SCRIPTS.parent / "models" / "student" / "policy.onnx"
    out = _run(SCRIPTS / "bench_motions.py", "--policy", policy, "--motions", raised, standing, "--json", rows,
               "--wall-limit", "60", timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(rows.read_text())
    refused, played = result["rows"]
    assert "the clip never started" in refused["error"] and "right_elbow_joint starts" in refused["error"]
    assert "error" not in played and played["complete"], played
    assert result["summary"]["complete"] == 1 and result["summary"]["errors"] == 1


def _raised_elbow_clip(spec, offsets, path):
    """A standing clip at 30 fps whose right elbow is ``offsets`` [rad] from the default pose, frame by frame."""
    from twist_core import rotations
    from twist_core.motion import build_motion, save_motion

    joints = np.tile(spec.default_pose, (len(offsets), 1))
    joints[:, spec.joint_names.index("right_elbow_joint")] -= offsets
    root = np.column_stack([np.zeros(len(offsets)), np.zeros(len(offsets)), np.full(len(offsets), 0.76)])
    return save_motion(build_motion(spec, 30.0, root, rotations.from_yaw(np.zeros(len(offsets))), joints), path)


def test_bench_motions_clip_to_play_trims_only_a_refused_clip(tmp_path):
    """--trim-start's choice: a clip the start check accepts plays as it is (even near the limit); a refused one
    from its first frame within the limits less the margin (0.1 rad), or else within the limits; one never within
    reach as it is."""
    import importlib.util

    from twist_core.motion import load_motion
    from twist_core.robot import load_robot_spec
    from twist_reference.clip_session import StartLimits

    loaded = importlib.util.spec_from_file_location("bench_motions", SCRIPTS / "bench_motions.py")
    bench = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(bench)
    spec, limits = load_robot_spec(), StartLimits()
    lowered = np.r_[np.full(15, 1.55), np.linspace(1.55, 0.05, 16), np.zeros(30)]  # 0.1 rad per frame from 15
    cases = {"near": np.full(10, 1.15), "lowered": lowered, "never": np.full(20, 1.5),
             "edge": np.r_[np.full(5, 1.5), np.full(10, 1.15)]}
    plays = {name: bench.clip_to_play(_raised_elbow_clip(spec, offsets, tmp_path / f"{name}.npz"), spec, None,
                                      "xyzw", limits, tmp_path) for name, offsets in cases.items()}
    assert plays["near"] == (tmp_path / "near.npz", pytest.approx(9 / 30 + 2.0), 0.0)
    assert plays["never"] == (tmp_path / "never.npz", pytest.approx(19 / 30 + 2.0), 0.0)
    assert plays["edge"][2] == pytest.approx(5 / 30)  # no frame within the margin: the first within the limits
    file, seconds, start = plays["lowered"]
    assert start == pytest.approx(20 / 30)  # 1.05 rad: within 1.2 less the margin; frame 19 (1.15) only within 1.2
    assert seconds == pytest.approx((61 - 1 - 20) / 30 + 2.0)
    trimmed = load_motion(file, spec)
    assert trimmed.num_frames == 61 - 20 and trimmed.metadata["starts_at_s"] == pytest.approx(20 / 30)
    assert bench.clip_to_play(tmp_path / "lowered.npz", spec, None, "xyzw", None, tmp_path)[2] == 0.0


def test_bench_motions_trim_start_plays_a_refused_clip_from_where_it_may_start(tmp_path):
    """The right elbow 1.5 rad from standing for 0.5 s, then lowered: refused as it is (the test above), with
    --trim-start the bench plays the clip through the nodes from its first frame the start check accepts (with the
    margin), and the row says from when."""
    from twist_core.robot import load_robot_spec

    offsets = np.r_[np.full(15, 1.5), np.linspace(1.5, 0.0, 15), np.zeros(30)]  # 30 fps: 0.5 s, 0.5 s, 1 s
    clip = _raised_elbow_clip(load_robot_spec(), offsets, tmp_path / "raised_then_lowered.npz")
    rows = tmp_path / "rows.json"
    policy = SCRIPTS.parent / "models" / "student" / "policy.onnx"
    out = _run(SCRIPTS / "bench_motions.py", "--policy", policy, "--motions", clip, "--json", rows, "--trim-start",
               "--wall-limit", "60", timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    (row,) = json.loads(rows.read_text())["rows"]
    assert "error" not in row and row["played"] > 0.5, row  # started (the walking student may fall on it)
    assert row["from_s"] == pytest.approx(19 / 30) and row["seconds"] == pytest.approx((60 - 1 - 19) / 30 + 2.0)
    assert "raised_then_lowered.npz (from 0.6 s)" in out.stdout, out.stdout
