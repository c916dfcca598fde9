"""Tracker training: the task's observations against the policy node's code, rewards and terminations, the
motion library, the KL distillation term, the CPU and Warp backends, and the train/resume/export commands."""

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from twist_core.motion import save_motion
from twist_core.policy_io import History, PolicyIO
from twist_core.policy_runtime import PolicyRuntime
from twist_core.toy_models import walking_clip, write_toy_cmg
from twist_training.tracking import evaluate
from twist_training.tracking import export as policy_export
from twist_training.tracking import train as tracking
from twist_training.tracking.assist import Assist, AssistConfig
from twist_training.tracking.batched_sim import CpuBatchedSim, DomainRandomization
from twist_training.tracking.checkpoints import (actor_from_checkpoint, checkpoint_config, checkpoints,
                                                 latest_checkpoint, load_checkpoint)
from twist_training.tracking.config import (QUIET_PHYSICS, ConfigError, RunConfig, dotted_overrides,
                                            load_config)
from twist_training.tracking.distillation import gaussian_kl, kl_coefficient
from twist_training.tracking.factories import make_env
from twist_training.tracking.probe import _gait, clip_probe, command_tracking, part_probe
from twist_training.tracking.references import MotionLibrary, clips_from_inputs, read_motion_list
from twist_training.tracking.task import RewardWeights, TaskConfig, TrackingEnv

QUIET = {"noise_joint_pos": 0.0, "noise_joint_vel": 0.0, "noise_gyro": 0.0, "noise_tilt": 0.0, "push_velocity": 0.0}


@pytest.fixture(scope="module")
def clips(spec, tmp_path_factory):
    """Three 6 s synthetic clips (standing, 0.5 m/s, 0.8 m/s turning) and a motion list weighting them."""
    root = tmp_path_factory.mktemp("tracking_clips")
    for i, (vx, yaw) in enumerate([(0.0, 0.0), (0.5, 0.0), (0.8, 0.2)]):
        save_motion(walking_clip(spec, 6.0, vx, yaw), root / f"clip_{i}.npz")
    (root / "list.yaml").write_text(yaml.safe_dump({"motions": [
        {"file": f"clip_{i}.npz", "weight": w, "description": d}
        for i, (w, d) in enumerate([(1.0, "stand"), (2.0, "walk"), (1.0, "turn")])]}))
    return root


def _env(spec, clips, num_envs=4, motions="", **task):
    sim = CpuBatchedSim(spec, num_envs, randomization=DomainRandomization(variants=2), threads=1)
    library = MotionLibrary.from_clips(spec, clips_from_inputs([str(clips / motions)]))
    return TrackingEnv(spec, sim, library, TaskConfig(**{**QUIET, **task}))


def test_student_observation_is_what_the_policy_node_builds(spec, clips):
    """Without noise, the env's student observation equals numpy PolicyIO.frame + History (the policy node's
    code, float64) fed the sim's sensors and the reference, from the reset through five steps."""
    env = _env(spec, clips, max_action_delay=0)
    io = PolicyIO(spec)
    generator = torch.Generator().manual_seed(0)

    def node_frame(last_action):
        f = env._frame_index()
        lib, sim = env.library, env.sim
        return io.frame(lib.root_pos[f, 2].double().numpy(), lib.root_quat[f].double().numpy(),
                        lib.root_lin_vel_local[f].double().numpy(), lib.root_ang_vel_local[f, 2].double().numpy(),
                        lib.joint_pos[f].double().numpy(), sim.imu_gyro().double().numpy(),
                        sim.imu_quat().double().numpy(), sim.joint_pos().double().numpy(),
                        sim.joint_vel().double().numpy(), last_action)

    action = np.zeros((env.num_envs, io.num_actions))
    history = History(node_frame(action))
    np.testing.assert_allclose(env.get_observations()["student"].numpy(), history.observation(node_frame(action)),
                               atol=1e-5)
    for _ in range(5):
        action = (0.3 * torch.randn(env.num_envs, io.num_actions, generator=generator)).numpy()
        obs, _, dones, _ = env.step(torch.as_tensor(action, dtype=torch.float32))
        assert not dones.any()
        np.testing.assert_allclose(obs["student"].numpy(), history.observation(node_frame(action)), atol=1e-4)
    assert obs["student"].shape == (4, 1144) and obs["teacher"].shape == (4, 20 * 58 + 104 + 99)
    assert obs["assist"].shape == (4, 1)


def test_rewards_and_terminations(spec, clips):
    """Reference-state init tracks well at first (joint term near its maximum); the planar velocity term is off
    by default (TWIST's set; weighted 0, not computed) and, when weighted, falls with a velocity error; a robot
    knocked far off its reference is terminated (not a time-out); clips ending are time-outs."""
    optional = ("lin_vel", "yaw_rate", "feet_height", "leg_dof", "upper_dof")
    env = _env(spec, clips, num_envs=8, rewards=RewardWeights(**{f"tracking_{k}": 1.0 for k in optional}))
    io = PolicyIO(spec)
    _, rewards, dones, extras = env.step(torch.zeros(8, io.num_actions))
    assert torch.isfinite(rewards).all()
    assert float(extras["log"]["Reward/tracking_joint_dof"]) > 0.5 * 0.6 * env.dt
    on_track = {k: float(extras["log"][f"Reward/tracking_{k}"]) for k in optional}
    assert all(0.5 * env.dt < v <= env.dt for v in on_track.values()), on_track
    env.sim.add_base_velocity(np.arange(8), np.tile([0.5, 0.0, 0.0], (8, 1)))
    _, _, _, extras = env.step(torch.zeros(8, io.num_actions))
    assert float(extras["log"]["Reward/tracking_lin_vel"]) < 0.5 * on_track["lin_vel"], "0.5 m/s off: exp(-4)"
    lifted = env.sim.qpos().clone()
    lifted[:, 2] += 0.06  # the robot (both ankles) 6 cm above where its reference stands: exp(-2 * 1.2^2)
    env.sim.reset(np.arange(8), lifted[:, :3].numpy(), lifted[:, 3:7].numpy(), env.sim.joint_pos().numpy())
    feet = float(env._rewards()[1]["tracking_feet_height"].mean())
    assert feet < 0.1 * on_track["feet_height"], (feet, on_track)
    bent = env.sim.joint_pos().clone()
    bent[:, env.policy_idx[env.leg_idx]] += 0.1  # every leg joint 0.1 rad off: exp(-12 * 0.01 / 0.3^2) = 0.26
    env.sim.reset(np.arange(8), lifted[:, :3].numpy(), lifted[:, 3:7].numpy(), bent.numpy())
    terms = env._rewards()[1]
    assert float(terms["tracking_leg_dof"].mean()) < 0.4 * on_track["leg_dof"], (terms, on_track)
    assert float(terms["tracking_joint_dof"].mean()) > 0.9 * 0.6 * env.dt, "TWIST's joint term hardly notices"
    assert float(terms["tracking_upper_dof"].mean()) > 0.9 * on_track["upper_dof"], "the legs are not its joints"
    assert len(env.upper_idx) == 11 and not set(env.upper_idx.tolist()) & set(env.leg_idx.tolist())
    bent[:, env.policy_idx[env.upper_idx]] += 0.4  # waist and arms 0.4 rad off: exp(-11 * 0.16 / 1.0^2) = 0.17
    env.sim.reset(np.arange(8), lifted[:, :3].numpy(), lifted[:, 3:7].numpy(), bent.numpy())
    assert float(env._rewards()[1]["tracking_upper_dof"].mean()) < 0.3 * on_track["upper_dof"]
    default = _env(spec, clips, num_envs=2).step(torch.zeros(2, io.num_actions))[3]["log"]
    assert not any(f"Reward/tracking_{k}" in default for k in optional), "weight 0: not computed, not logged"
    assert "Reward/tracking_joint_dof" in default and "Reward/feet_slip" in default
    env.sim.add_base_velocity(np.arange(8), np.tile([4.0, 0.0, 3.0], (8, 1)))
    terminated = torch.zeros(8, dtype=torch.bool)
    for _ in range(25):
        _, _, dones, extras = env.step(torch.zeros(8, io.num_actions))
        terminated |= dones.bool() & ~extras["time_outs"]
    assert terminated.all(), "a robot thrown 4 m/s upwards and forwards must fail its reference"
    env.episode_length_buf[:] = env.library.lengths[env.motion_ids] - env.motion_start  # at every clip's end
    _, _, dones, extras = env.step(torch.zeros(8, io.num_actions))
    assert dones.all() and extras["time_outs"].any()


def test_motion_library_sampling_and_difficulty(spec, clips):
    """Weights from the YAML list, sampling proportional to weight x difficulty, TWIST's difficulty rule."""
    listed = read_motion_list(clips / "list.yaml")
    assert [c.weight for c in listed] == [1.0, 2.0, 1.0] and listed[0].description == "stand"
    library = MotionLibrary.from_clips(spec, listed)
    ids, starts = library.sample(30000, torch.Generator().manual_seed(0))
    share = torch.bincount(ids, minlength=3).float() / 30000
    np.testing.assert_allclose(share.numpy(), [0.25, 0.5, 0.25], atol=0.02)
    assert (starts + 50 <= library.lengths[ids]).all()
    library.update_difficulty(torch.tensor([0, 0, 1]), torch.tensor([0.2, 0.4, 1.0]))
    np.testing.assert_allclose(library.difficulty.numpy(), [9.0, 9.0 * 0.99, 9.0])  # clamped at 9 / eased
    (clips / "bad.yaml").write_text("motions: [{weight: 1}]")
    with pytest.raises(ValueError, match="needs a 'file'"):
        read_motion_list(clips / "bad.yaml")


def test_assist_holds_the_robot_up_and_fades(spec, clips):
    """On its PD gains alone (zero actions) the standing G1 topples within 4 s; the gantry at level 1 holds it
    up; the curriculum lowers the level while nothing falls and raises it when much falls; ``fixed()`` holds it
    (none by default) for probes; stepping physics step by physics step under a zero force law is exactly the
    plain step."""
    first_fall = {}
    for level in (0.0, 1.0):
        env = _env(spec, clips, num_envs=4, motions="clip_0.npz", max_action_delay=0,
                   assist=AssistConfig(initial=level, update_steps=10**6))
        fell = torch.full((4,), -1)
        for step in range(200):
            _, _, dones, extras = env.step(torch.zeros(4, env.num_actions))
            fell[(dones.bool() & ~extras["time_outs"]) & (fell < 0)] = step
        first_fall[level] = fell.tolist()
    assert all(0 < f < 200 for f in first_fall[0.0]) and first_fall[1.0] == [-1] * 4, first_fall
    assist = Assist(AssistConfig(initial=1.0, rate=0.1, update_steps=10, fall_rate_high=0.15), 4, 0.02)
    for _ in range(30):
        assist.record(torch.zeros(4, dtype=torch.bool))
    assert assist.level == pytest.approx(0.7)
    for _ in range(10):
        assist.record(torch.tensor([True, False, False, False]))  # 10 falls in 0.8 env-seconds
    assert assist.level == pytest.approx(0.8)
    with assist.fixed():
        assert assist.level == 0.0 and not assist.active
        assist.record(torch.ones(4, dtype=torch.bool))
    with assist.fixed(0.3):
        assert assist.level == 0.3
    assert assist.level == pytest.approx(0.8)
    plain, stepped = (CpuBatchedSim(spec, 2, threads=1) for _ in range(2))
    targets = torch.as_tensor(np.tile(spec.default_pose, (2, 1)), dtype=torch.float32)
    for _ in range(5):
        plain.step(targets)
        stepped.step(targets, lambda: torch.zeros(2, 6))
    np.testing.assert_array_equal(stepped.qpos().numpy(), plain.qpos().numpy())


def test_kl_term_and_its_schedule():
    """gaussian_kl is KL(p || q) of diagonal Gaussians; the coefficient decays by a cosine, not compounding."""
    torch.manual_seed(0)
    mp, mq = torch.randn(5, 23), torch.randn(5, 23)
    sp, sq = torch.rand(5, 23) + 0.2, torch.rand(5, 23) + 0.2
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(mp, sp),
                                                 torch.distributions.Normal(mq, sq)).sum(-1)
    torch.testing.assert_close(gaussian_kl(mp, sp, mq, sq), expected)
    assert torch.allclose(gaussian_kl(mp, sp, mp, sp), torch.zeros(5), atol=1e-6)
    values = [kl_coefficient(i, 0.1, 0.01, 3000) for i in range(0, 6001, 500)]
    assert values[0] == pytest.approx(0.1) and values[3] == pytest.approx(0.055)  # the midpoint at half time
    assert values[6:] == pytest.approx([0.01] * 7) and all(a >= b for a, b in zip(values, values[1:]))


def test_cpu_and_warp_backends_agree(spec):
    """The same start, variants and targets stepped by MuJoCo (C) and MuJoCo Warp (its CPU device) for 10
    control steps, then 3 under a floating-base force law, give the same state (first Warp run compiles its
    kernels, about 1.5 min)."""
    pytest.importorskip("mujoco_warp")
    from twist_training.tracking.batched_warp import WarpBatchedSim

    randomization = DomainRandomization(variants=2)
    cpu = CpuBatchedSim(spec, 2, randomization=randomization, threads=1)
    gpu = WarpBatchedSim(spec, 2, randomization=randomization, device="cpu")
    pose = np.tile(spec.default_pose, (2, 1))
    for sim in (cpu, gpu):
        sim.reset(np.arange(2), np.tile([0.0, 0.0, 0.8], (2, 1)), np.tile([1.0, 0, 0, 0], (2, 1)), pose,
                  variants=np.array([0, 1]))
    targets = torch.as_tensor(pose, dtype=torch.float32)
    targets[:, spec.joint_index("left_knee_joint")] += 0.3
    for _ in range(10):
        cpu.step(targets)
        gpu.step(targets)
    for _ in range(3):  # a force law on the floating base, evaluated every physics step from each backend's state
        for sim in (cpu, gpu):
            sim.step(targets, lambda sim=sim: torch.cat([torch.tensor([[0.0, 0.0, 150.0]] * 2, device=sim.device),
                                                         -20.0 * sim.qvel()[:, 3:6]], dim=1))
    np.testing.assert_allclose(gpu.qpos().cpu().numpy(), cpu.qpos().numpy(), atol=1e-3)
    np.testing.assert_allclose(gpu.joint_torque().cpu().numpy(), cpu.joint_torque().numpy(), atol=1.0)
    assert np.abs(cpu.qpos().numpy()[:, 2] - 0.8).max() > 1e-3, "the robot must have moved (fallen onto the floor)"


def test_train_resume_student_and_export(spec, clips, tmp_path, capsys):
    """train-teacher (2 iterations, with the fading gantry; its complete configuration in config.yaml and the
    checkpoints) resumes to 3 with the gantry's level (and raises the action stds below --min-std); train-student
    learns with the KL term; export-policy writes an ONNX file the policy node's loader accepts; a teacher, a
    missing run and a corrupt checkpoint are refused."""
    smoke = Path(__file__).resolve().parents[3] / "config" / "tracking" / "smoke.yaml"
    assisted = {**yaml.safe_load(smoke.read_text()), "task": {"assist": {"initial": 1.0, "update_steps": 4}}}
    (tmp_path / "teacher.yaml").write_text(yaml.safe_dump(assisted))
    base = ["--motions", str(clips)]
    tracking.main_teacher(base + ["--config", str(tmp_path / "teacher.yaml"), "--out", str(tmp_path / "teacher")])
    first_state = load_checkpoint(tmp_path / "teacher" / "model_1.pt")
    first = first_state["infos"]["assist_level"]
    resolved = load_config(tmp_path / "teacher.yaml", {"references": {"motions": [str(clips)]}}).to_dict()
    written = yaml.safe_load((tmp_path / "teacher" / "config.yaml").read_text())
    assert first_state["infos"]["config"] == written == resolved
    assert 0.0 < first < 1.0, "16 steps with few falls: the gantry's level must have dropped"
    tracking.main_teacher(base + ["--config", str(tmp_path / "teacher.yaml"), "--out", str(tmp_path / "teacher"),
                                  "--iterations", "3"])
    assert "teacher: resuming from model_1.pt" in capsys.readouterr().out
    assert [p.name for p in checkpoints(tmp_path / "teacher")] == ["model_1.pt", "model_2.pt"]
    last = load_checkpoint(tmp_path / "teacher" / "model_2.pt")["infos"]["assist_level"]
    assert _script("probe_checkpoint").main(["--checkpoint", str(tmp_path / "teacher" / "model_2.pt"), "--motions",
                                             str(clips), "--envs", "2", "--steps", "5", "--threads", "1",
                                             "--quiet-physics"]) == 0
    probed = capsys.readouterr().out
    assert "deterministic_episode_length" in probed and "root_vel_error" in probed
    _clip_probe(spec, tmp_path / "teacher" / "model_2.pt", clips, capsys)
    _command_probe(spec, tmp_path / "teacher" / "model_2.pt", write_toy_cmg(tmp_path / "cmg.onnx", spec), capsys)
    std = load_checkpoint(tmp_path / "teacher" / "model_2.pt")["actor_state_dict"]["distribution.std_param"]
    floor = float(std.median())
    resumed = tracking.train("teacher", load_config(tmp_path / "teacher.yaml", {
        "iterations": 3, "references": {"motions": [str(clips)]}}), tmp_path / "teacher", min_std=floor)
    assert resumed.env.assist.level == last <= first
    torch.testing.assert_close(resumed.alg.actor.distribution.std_param.detach(), std.clamp(min=floor))
    with pytest.raises(ConfigError, match="min_std must be > 0"):
        tracking.train("teacher", load_config(tmp_path / "teacher.yaml"), tmp_path / "teacher", min_std=0.0)
    full = tmp_path / "teacher" / "model_2.pt"
    assert _script("slim_checkpoint").main([str(full), str(tmp_path / "slim" / "model_2.pt")]) == 0
    slim = load_checkpoint(tmp_path / "slim" / "model_2.pt")
    learning_rate = load_checkpoint(full)["optimizer_state_dict"]["param_groups"][0]["lr"]
    assert "optimizer_state_dict" not in slim and slim["infos"]["learning_rate"] == learning_rate
    assert (tmp_path / "slim" / "model_2.pt").stat().st_size < full.stat().st_size / 2
    tracking.main_teacher(base + ["--config", str(tmp_path / "teacher.yaml"), "--out", str(tmp_path / "slim"),
                                  "--iterations", "4"])
    assert "no optimizer state (weights only): Adam restarts" in capsys.readouterr().out
    assert latest_checkpoint(tmp_path / "slim").name == "model_3.pt"
    base += ["--config", str(smoke)]
    tracking.main_student(base + ["--out", str(tmp_path / "student"), "--teacher", str(tmp_path / "teacher")])
    state = load_checkpoint(latest_checkpoint(tmp_path / "student"))
    assert state["infos"]["role"] == "student" and state["distillation_updates"] == 2
    assert "actor_state_dict" in state["infos"]["teacher"]
    warm = tracking.train("student", load_config(smoke, {"iterations": 0, "references": {
        "motions": [str(clips)]}}), tmp_path / "warm", teacher=tmp_path / "slim", init_from=tmp_path / "student")
    for key, value in state["actor_state_dict"].items():  # a new teacher, the trained student's actor
        torch.testing.assert_close(warm.alg.get_policy().state_dict()[key], value)
    assert "observation normalizer refit" not in capsys.readouterr().out  # only when asked for
    with pytest.raises(SystemExit) as exit_info:
        tracking.main_student(base + ["--out", str(tmp_path / "warm2"), "--teacher", str(tmp_path / "slim"),
                                      "--init-from", str(tmp_path / "teacher")])
    assert exit_info.value.code == 2 and "is not a student checkpoint" in capsys.readouterr().err
    policy_export.main(["--checkpoint", str(tmp_path / "student"), "--out", str(tmp_path / "policy.onnx")])
    runtime = PolicyRuntime(tmp_path / "policy.onnx", spec)
    assert runtime.metadata["role"] == "student" and (tmp_path / "policy.pt").exists()
    assert runtime.act(np.zeros(1144, dtype=np.float32)).shape == (23,)
    evaluate.main(["--policy", str(tmp_path / "policy.onnx"), "--envs", "4", "--seconds", "1", "--threads", "1",
                   "--quiet-physics", "--out", str(tmp_path / "eval")])
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert report["rows"][-1]["clip"] == "all" and report["rows"][-1]["steps"] == 4 * 50
    assert all(np.isfinite(r["joint_error"]) for r in report["rows"])
    assert "joint rad" in capsys.readouterr().out
    for argv in (["--checkpoint", str(tmp_path / "teacher")], ["--checkpoint", str(tmp_path / "none")]):
        with pytest.raises(SystemExit) as exit_info:
            policy_export.main(argv + ["--out", str(tmp_path / "x.onnx")])
        assert exit_info.value.code == 2
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "corrupt.pt")
    with pytest.raises(SystemExit):
        tracking.main_student(base + ["--out", str(tmp_path / "orphan")])
    assert "needs --teacher" in capsys.readouterr().err


def test_gait_statistics_compare_amplitude_and_offset_with_the_reference():
    """A robot swinging its joints at half the reference's amplitude, 0.1 rad further on: amplitude 0.5, offset
    +0.1; steps not measured (NaN) are left out."""
    t = torch.arange(1000)[:, None, None] * 2 * np.pi / 100  # ten whole periods
    reference = torch.sin(t).repeat(1, 3, 8)
    robot = 0.5 * reference + 0.1
    robot[:100] = reference[:100] = torch.nan  # steps not measured (a whole period)
    gait = _gait(robot, reference)
    assert gait["knee_amplitude"] == pytest.approx(0.5, abs=1e-3)
    assert gait["hip_yaw_offset"] == pytest.approx(0.1, abs=1e-3)
    assert np.isnan(_gait(robot, torch.zeros_like(reference))["knee_amplitude"])  # a still reference: no ratio


def _clip_probe(spec, checkpoint, clips, capsys):
    """The per-clip probe: one row per clip played, env-steps adding up to envs x steps, falls where episodes
    ended early, the most falls per step first; the script prints the table."""
    state = load_checkpoint(checkpoint)
    config = checkpoint_config(state).override({"sim": {"num_envs": 4, "threads": 1}, "references": {
        "motions": [str(clips)], "sampling": {"mode": "clip"}}}).override(QUIET_PHYSICS)
    env = make_env(config, spec)
    actor = actor_from_checkpoint(state, env.get_observations(), env.num_actions, "teacher")
    rows = clip_probe(env, actor, 30)
    assert sum(row["env_steps"] for row in rows) == 4 * 30
    assert {row["name"] for row in rows} <= set(env.library.names) and rows
    assert [row["falls_per_1000_steps"] for row in rows] == sorted((row["falls_per_1000_steps"] for row in rows),
                                                                   reverse=True)
    for row in rows:
        assert row["falls"] <= row["env_steps"] and np.isfinite(row["joint_error"]) and row["keybody_error"] >= 0
    assert _script("probe_checkpoint").main(["--checkpoint", str(checkpoint), "--motions", str(clips), "--envs", "2",
                                             "--steps", "5", "--threads", "1", "--quiet-physics", "--per-clip",
                                             "--per-part"]) == 0
    out = capsys.readouterr().out
    assert "falls/1000" in out and env.library.names[0] in out
    assert "mean error [rad]" in out and spec.policy_joint_names[0] in out and spec.key_body_names[-1] in out
    parts = part_probe(env, actor, 10)
    assert sorted(row["name"] for row in parts["joints"]) == sorted(spec.policy_joint_names)
    assert sorted(row["name"] for row in parts["key_bodies"]) == sorted(spec.key_body_names)
    for row in parts["joints"]:
        assert 0 <= abs(row["mean_error"]) <= row["abs_error"] < np.pi and np.isfinite(row["follow"])


class _ScriptedEnv:
    """Three envs on clips a, b, c; env 1 (clip b) falls at step 1 and restarts on clip c; env 2's clip ends."""

    num_envs = 3

    def __init__(self):
        self.library = type("Library", (), {"names": ["a", "b", "c", "never"]})()
        self.motion_ids = torch.tensor([0, 1, 2])
        self.assist = type("Assist", (), {"fixed": staticmethod(lambda level: contextlib.nullcontext())})()
        self.t = 0

    def get_observations(self):
        return torch.zeros(3, 1)

    def step(self, actions):
        dones = torch.tensor([False, self.t == 1, self.t == 2])
        errors = {"joint": torch.tensor([0.1, 0.5, 0.2]), "keybody": torch.tensor([0.01, 0.05, 0.02]),
                  "dof": torch.tensor([[0.1, -0.3], [-0.1, -0.3], [0.1 * (-1) ** self.t, -0.3]]),
                  "dof_reference": torch.tensor([[0.5, 0.0], [0.5, 1.0], [0.5, 2.0 + self.t]]),
                  "key_bodies": torch.tensor([[0.05, 0.01]] * 3)}
        if self.t == 1:
            self.motion_ids = torch.tensor([0, 2, 2])
        self.t += 1
        time_outs = torch.tensor([False, False, self.t == 3])
        return actions, torch.zeros(3), dones, {"time_outs": time_outs, "errors": errors}


def test_clip_probe_attributes_steps_and_falls_to_the_clip_played():
    """Each env-step, error and fall counts for the clip the env played when it stepped (not the one it restarts
    on); a clip's end is no fall; clips never played have no row; most falls per step first."""
    rows = clip_probe(_ScriptedEnv(), lambda obs, stochastic_output: obs, 4)
    by_name = {row["name"]: row for row in rows}
    assert rows[0]["name"] == "b" and set(by_name) == {"a", "b", "c"}
    assert by_name["b"] == {"name": "b", "env_steps": 2, "falls": 1, "falls_per_1000_steps": 500.0,
                            "joint_error": pytest.approx(0.5), "keybody_error": pytest.approx(0.05)}
    assert by_name["a"]["env_steps"] == 4 and by_name["a"]["falls"] == 0
    assert by_name["c"]["env_steps"] == 6 and by_name["c"]["falls"] == 0  # env 2's clip end is a time-out
    assert by_name["c"]["joint_error"] == pytest.approx((4 * 0.2 + 2 * 0.5) / 6)


def test_part_probe_separates_steady_offsets_from_errors_that_change_sign():
    """Per joint the mean absolute and signed errors over every env-step and how much of the reference's swing
    the robot follows, per key body its mean distance; the largest first."""
    env = _ScriptedEnv()
    env.spec = type("Spec", (), {"policy_joint_names": ("hip", "wrist"), "key_body_names": ("hand", "foot"),
                                 "num_policy_joints": 2})()
    parts = part_probe(env, lambda obs, stochastic_output: obs, 4)
    assert [row["name"] for row in parts["joints"]] == ["wrist", "hip"]
    wrist, hip = parts["joints"]
    assert wrist["abs_error"] == pytest.approx(0.3) and wrist["mean_error"] == pytest.approx(-0.3)  # a steady sag
    assert wrist["follow"] == pytest.approx(1.0)  # the robot's wrist swings as far as the reference's, 0.3 lower
    assert hip["abs_error"] == pytest.approx(0.1) and hip["mean_error"] == pytest.approx(0.0, abs=1e-7)
    assert hip["follow"] == 0.0  # its reference does not move
    assert parts["key_bodies"] == [{"name": "hand", "error": pytest.approx(0.05)},
                                   {"name": "foot", "error": pytest.approx(0.01)}]


def _command_probe(spec, checkpoint, cmg, capsys):
    """The command probe: clips pinned to one command, the reference measured at that command, a table row."""
    script = _script("probe_checkpoint")
    state = load_checkpoint(checkpoint)
    config = checkpoint_config(state).override({"sim": {"num_envs": 4, "threads": 1},
                                                "references": {"cmg_model": str(cmg)}})
    env = make_env(script.command_config(config, (0.3, 0.0, 0.2), 4, 8.0), spec)
    actor = actor_from_checkpoint(state, env.get_observations(), env.num_actions, "teacher")
    result = command_tracking(env, actor, 60, int(script.SETTLE_SECONDS / env.dt))
    assert result["measured_steps"] > 0
    assert result["reference_vx"] == pytest.approx(0.3, abs=0.01) and abs(result["reference_vy"]) < 0.01
    assert result["reference_yaw_rate"] == pytest.approx(0.2, abs=0.01)
    assert all(np.isfinite(result[k]) for k in ("vx", "vy", "yaw_rate", "knee_offset", "target_knee_offset"))
    assert np.isnan(result["target_knee_amplitude"])  # the toy CMG keeps the knee still: no amplitude ratio
    assert 0.0 <= result["double_support"] <= 1.0
    assert script.main(["--checkpoint", str(checkpoint), "--commands", "0.3,0,0", "--cmg-model", str(cmg), "--envs",
                        "2", "--steps", "5", "--command-seconds", "4", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "+0.30 +0.00 +0.00" in out and "gait: amplitude / reference hip_pitch" in out
    assert "targets: amplitude / reference hip_pitch" in out
    with pytest.raises(SystemExit):
        script.main(["--checkpoint", str(checkpoint), "--commands", "0.3,0"])
    assert "a command is vx,vy,yaw_rate" in capsys.readouterr().err


def _script(name):
    import importlib.util

    path = Path(__file__).resolve().parents[3] / "scripts" / f"{name}.py"
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_learning_check_and_benchmark_scripts_run(tmp_path, capsys):
    """The CI-sized learning check (2 iterations on a generated stepping clip) and benchmark (8 envs) run and
    report what they measure."""
    assert _script("learning_check").main(["--minutes", "0", "--iterations", "2", "--envs", "8", "--threads", "1",
                                           "--hidden", "32", "--probe-steps", "10", "--no-check", "--out",
                                           str(tmp_path)]) == 0
    report = json.loads((tmp_path / "learning.json").read_text())
    assert len(report["rows"]) == 2 and (tmp_path / "learning.png").stat().st_size > 0
    assert report["before"]["episode_length"] > 0 and np.isfinite(report["after"]["reward_per_step"])
    _script("bench_tracking").main(["--envs", "8", "--steps", "3", "--iterations", "1", "--threads", "1",
                                    "--collision", "capsules", "--setting", "algorithm.num_learning_epochs=1"])
    row = capsys.readouterr().out.splitlines()[-1].split()
    assert row[:3] == ["capsules", "algorithm.num_learning_epochs=1"[-24:], "8"]
    split = [float(v) for v in row[row.index("|") + 1:row.index("|") + 8]]
    assert sum(split) == pytest.approx(100.0, abs=0.5) and split[0] > 0 and split[5] > 0  # physics, learning


def test_capsule_collision_model(spec):
    """sim.collision capsules: no colliding mesh left, the feet's spheres kept, no contact of the robot with itself
    in the default pose (design overlaps excluded), the same masses and sensors as the full model; standing on
    the floor under PD, both models carry the robot on its feet alike."""
    import mujoco

    from twist_training.tracking.sim_model import training_model

    full, layout = training_model(spec, 0.005, "full")
    capsules, same = training_model(spec, 0.005, "capsules")
    assert same == layout and capsules.nsensordata == full.nsensordata
    np.testing.assert_allclose(capsules.body_mass, full.body_mass)
    colliding = (capsules.geom_contype > 0) | (capsules.geom_conaffinity > 0)
    assert not np.any(colliding & (capsules.geom_type == mujoco.mjtGeom.mjGEOM_MESH))
    assert np.sum(colliding & (capsules.geom_type == mujoco.mjtGeom.mjGEOM_SPHERE)) == 8
    assert np.sum((full.geom_type == mujoco.mjtGeom.mjGEOM_MESH) & (full.geom_contype > 0)) > 20
    heights = []
    for model in (full, capsules):
        data = mujoco.MjData(model)
        data.qpos[2] += 1.0
        mujoco.mj_forward(model, data)
        assert data.ncon == 0, "the robot touches itself in the default pose"
        env = CpuBatchedSim(spec, 1, randomization=DomainRandomization(enabled=False, variants=1), threads=1,
                            collision="full" if model is full else "capsules")
        targets = torch.as_tensor(spec.default_pose, dtype=torch.float32)[None]
        for _ in range(25):  # 0.5 s standing (the PD stance tips over later)
            env.step(targets)
        heights.append(float(env.root_pos()[0, 2]))
        force = env.foot_force()[0]
        assert torch.all(force > 50.0), "both feet carry the robot"
    assert heights[0] == pytest.approx(heights[1], abs=0.01)
    with pytest.raises(ValueError, match="collision must be one of"):
        training_model(spec, 0.005, "boxes")


def test_time_to_policy_stops_at_the_time_limit_with_its_report(spec, clips, tmp_path, capsys):
    """time_to_policy on a tiny configuration: one chunk, one command probe (CMG clips of the toy CMG), no walking
    policy within the limit: exit 1, the probe's line and the summary, result.json; a bad override is refused."""
    smoke = Path(__file__).resolve().parents[3] / "config" / "tracking" / "smoke.yaml"
    cmg = write_toy_cmg(tmp_path / "cmg.onnx", spec)
    config = {**yaml.safe_load(smoke.read_text()), "references": {"motions": [str(clips)], "cmg_model": str(cmg)}}
    (tmp_path / "ttp.yaml").write_text(yaml.safe_dump(config))
    script = _script("time_to_policy")
    code = script.main(["--config", str(tmp_path / "ttp.yaml"), "--out", str(tmp_path / "ttp"), "--minutes", "0.001",
                        "--probe-every", "1", "--probe-envs", "2", "--probe-steps", "5",
                        "--set", "algorithm.num_learning_epochs=1"])
    out = capsys.readouterr().out
    assert code == 1 and "no walking teacher within 0.001 min (1 iterations)" in out
    result = json.loads((tmp_path / "ttp" / "result.json").read_text())
    assert result["reached"] is None and len(result["probes"]) == 1
    assert result["config"]["algorithm"]["num_learning_epochs"] == 1
    assert script.main(["--config", str(tmp_path / "ttp.yaml"), "--out", str(tmp_path / "bad"),
                        "--set", "algorithm"]) == 2
    assert dotted_overrides(["a.b=2", "a.c=[1, 2]"]) == {"a": {"b": 2, "c": [1, 2]}}


def test_reward_terms_are_registered_by_their_weights_names():
    """Every RewardWeights field names a registered term with a docstring; unknown weights are refused."""
    from twist_training.tracking.rewards import TERMS, weighted_terms

    fields = [f.name for f in __import__("dataclasses").fields(RewardWeights)]
    assert sorted(fields) == sorted(TERMS) and all(TERMS[name].__doc__ for name in fields)
    with pytest.raises(KeyError, match="no reward term"):
        weighted_terms(None, {"tracking_everything": 1.0})


def test_mixed_precision_only_where_bfloat16_is_native(monkeypatch, capsys):
    """A recipe's use_mixed_precision runs where bfloat16 is native and is turned off, said, where it is emulated."""
    config = RunConfig.from_dict({"algorithm": {"use_mixed_precision": True}})
    monkeypatch.setattr(tracking, "bfloat16_is_fast", lambda device: True)
    assert tracking.supported_precision(config, "cpu").algorithm.use_mixed_precision is True
    monkeypatch.setattr(tracking, "bfloat16_is_fast", lambda device: False)
    effective = tracking.supported_precision(config, "cpu")
    assert effective.algorithm.use_mixed_precision is False and "no native bfloat16" in capsys.readouterr().out
    assert config.algorithm.use_mixed_precision is True  # the recipe itself unchanged
    assert isinstance(tracking.bfloat16_is_fast("cpu"), bool)


def test_imitation_puts_the_chosen_joints_on_the_reference_and_keeps_the_rest(spec, clips):
    """reference_actions are the actions whose PD targets are the next reference frame; imitate_reference brings
    the chosen joints' mean actions to them (round by round) and keeps the others at the anchor's; bad arguments
    are refused."""
    from rsl_rl.models import MLPModel

    from twist_training.tracking.imitation import imitate_reference, reference_actions

    env = _env(spec, clips, num_envs=8, motions="list.yaml")
    lib = env.library
    following = lib.index(env.motion_ids, env.motion_start + env.episode_length_buf + 1)
    targets = env.io.targets(reference_actions(env))
    torch.testing.assert_close(targets[:, env.policy_idx], lib.joint_pos[following][:, env.policy_idx])
    torch.manual_seed(0)
    actor = MLPModel(env.get_observations(), {"actor": ["teacher"]}, "actor", env.num_actions, hidden_dims=(64, 64),
                     obs_normalization=True, distribution_cfg={"class_name": "GaussianDistribution", "init_std": 0.1})
    actor.update_normalization(env.get_observations())
    with torch.inference_mode():  # as after PPO's rollouts and the normalizer refit: inference-mode buffers
        env.step(torch.zeros(env.num_envs, env.num_actions))
    env.episode_length_buf[:] = env.max_episode_length - 3  # episodes end (and reset) within the first round
    joints = env.upper_idx
    others = torch.tensor([i for i in range(env.num_actions) if i not in set(joints.tolist())])
    results = imitate_reference(env, actor, joints, rounds=3, steps=8, epochs=30, batch=32, learning_rate=1e-3)
    assert [r.samples for r in results] == [64, 64, 64]
    assert all(r.joints_loss_after < r.joints_loss_before for r in results)
    assert results[-1].joints_loss_after < 0.25 * results[0].joints_loss_before
    std_before = actor.distribution.std_param.detach().clone()
    anchor = MLPModel(env.get_observations(), {"actor": ["teacher"]}, "actor", env.num_actions, hidden_dims=(64, 64),
                      obs_normalization=True)
    anchor.load_state_dict({k: v for k, v in actor.state_dict().items() if not k.startswith("distribution")})
    imitate_reference(env, actor, joints, rounds=1, steps=8, epochs=30, batch=32, learning_rate=1e-3, anchor=anchor)
    obs = env.get_observations()
    with torch.no_grad():
        kept = (actor(obs)[:, others] - anchor(obs)[:, others]).abs().mean()
        moved = (actor(obs)[:, joints] - reference_actions(env)[:, joints]).abs().mean()
    assert float(kept) < 0.15 and float(moved) < 0.2  # untrained: about 0.6 off the reference
    torch.testing.assert_close(actor.distribution.std_param.detach(), std_before)  # the stds are not fitted
    for bad in ({"rounds": 0}, {"learning_rate": 0.0}, {"joints": torch.tensor([env.num_actions])}):
        with pytest.raises(ValueError):
            imitate_reference(env, actor, **{"joints": joints, "rounds": 1, **bad})
