"""Probing a tracker policy without help: how long its episodes last and how well it tracks.

Used by ``scripts/learning_check.py`` (before and after a short run) and ``scripts/probe_checkpoint.py`` (any
train-teacher checkpoint).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from twist_training.tracking import torch_math as tm
from twist_training.tracking.task import CONTACT_FORCE, TrackingEnv

ERRORS = ("joint", "keybody", "root_vel")
#: Leg joints whose amplitude and offset the command probe compares with the reference's (both sides).
GAIT_JOINTS = ("hip_pitch", "hip_yaw", "knee", "ankle_pitch")
STILL = 1e-3  # [rad] a reference joint moving less is still


def _rollout(env: TrackingEnv, actor: torch.nn.Module, steps: int, stochastic: bool, assist: float = 0.0
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]]:
    """Run ``steps`` control steps of every environment with the gantry held at ``assist``.

    Yields per step: the clip each env played, ended episodes, falls (ends other than the clip's end), rewards and
    the tracking errors.
    """
    obs = env.get_observations()
    with torch.inference_mode(), env.assist.fixed(assist):
        for _ in range(steps):
            clips = env.motion_ids.clone()
            obs, rewards, dones, extras = env.step(actor(obs, stochastic_output=stochastic))
            ended = dones.bool()
            yield clips, ended, ended & ~extras["time_outs"].bool(), rewards, extras["errors"]


def probe(env: TrackingEnv, actor: torch.nn.Module, steps: int, assist: float = 0.0) -> dict[str, float]:
    """Episode length, falls, reward per step and tracking errors, sampling actions and with the mean action.

    Each probe runs ``steps`` control steps of every environment with the gantry held at ``assist`` (none by
    default); episode length = env-steps over episodes started, so running episodes count too (episodes also
    end with their clip); falls = terminations other than the clip's end, per 1000 env-steps; the joint [rad],
    key-body [m] and root-velocity [m/s] errors are means over every env-step.
    """
    out = {}
    for name, stochastic in (("", True), ("deterministic_", False)):
        ended, falls, reward = 0, 0, 0.0
        errors = dict.fromkeys(ERRORS, 0.0)
        for _, done, fell, rewards, step_errors in _rollout(env, actor, steps, stochastic, assist):
            ended += int(done.sum())
            falls += int(fell.sum())
            reward += float(rewards.mean())
            for key in ERRORS:
                errors[key] += float(step_errors[key].mean())
        out[f"{name}episode_length"] = steps * env.num_envs / (ended + env.num_envs)
        out[f"{name}falls_per_1000_steps"] = 1000.0 * falls / (steps * env.num_envs)
        out[f"{name}reward_per_step"] = reward / steps
        out.update({f"{name}{key}_error": value / steps for key, value in errors.items()})
    return out


def clip_probe(env: TrackingEnv, actor: torch.nn.Module, steps: int) -> list[dict]:
    """Per reference clip, under the mean action with the gantry off: which clips the policy still falls on.

    One row per clip the ``steps`` control steps of every environment played (``name``, ``env_steps``,
    ``falls``, ``falls_per_1000_steps`` and the mean ``joint_error`` [rad] and ``keybody_error`` [m] over its
    env-steps), the most falls per env-step first. Which clips play is the library's draw (with
    ``references.sampling.mode: clip`` by weight x difficulty), so heavily weighted clips get more env-steps and
    a lightly weighted clip's rates rest on few; envs x steps many times the list's length reaches every clip.
    """
    count = len(env.library.names)
    env_steps, falls = torch.zeros(count), torch.zeros(count)
    errors = {key: torch.zeros(count) for key in ("joint", "keybody")}
    for clips, _, fell, _, step_errors in _rollout(env, actor, steps, stochastic=False):
        clips = clips.cpu()
        env_steps.index_add_(0, clips, torch.ones(len(clips)))
        falls.index_add_(0, clips, fell.float().cpu())
        for key, total in errors.items():
            total.index_add_(0, clips, step_errors[key].float().cpu())
    rows = [{"name": name, "env_steps": int(env_steps[i]), "falls": int(falls[i]),
             "falls_per_1000_steps": 1000.0 * float(falls[i] / env_steps[i]),
             **{f"{key}_error": float(total[i] / env_steps[i]) for key, total in errors.items()}}
            for i, name in enumerate(env.library.names) if env_steps[i] > 0]
    return sorted(rows, key=lambda row: -row["falls_per_1000_steps"])


def part_probe(env: TrackingEnv, actor: torch.nn.Module, steps: int) -> dict[str, list[dict]]:
    """Per policy joint and key body, under the mean action with the gantry off: where the tracking error lives.

    ``joints``: per policy joint its ``name``, mean absolute error and mean signed error (robot - reference) [rad]
    over every env-step, and ``follow``, the slope of the robot's angle on the reference's (least squares over
    every env-step: 1 follows the reference's whole swing, 0 ignores it; 0 where the reference does not move); a
    signed error near the absolute one is a steady offset (the joint sags, or the policy holds it short), a small
    one an error that changes sign (lag, overshoot, or a swing followed only in part: ``follow``). ``key_bodies``:
    per key body its ``name`` and mean distance from the reference's (pelvis yaw frame) [m]. Each list the largest
    error first.
    """
    spec = env.spec
    count = 0
    sums = {key: torch.zeros(spec.num_policy_joints, dtype=torch.float64)
            for key in ("abs", "signed", "ref", "ref_sq", "robot_ref")}
    key_total = torch.zeros(len(spec.key_body_names), dtype=torch.float64)
    for _, _, _, _, step_errors in _rollout(env, actor, steps, stochastic=False):
        dof = step_errors["dof"].double().cpu()
        ref = step_errors["dof_reference"].double().cpu()
        for key, value in (("abs", dof.abs()), ("signed", dof), ("ref", ref), ("ref_sq", ref ** 2),
                           ("robot_ref", (ref + dof) * ref)):
            sums[key] += value.sum(0)
        key_total += step_errors["key_bodies"].double().cpu().sum(0)
        count += len(dof)
    mean = {key: value / count for key, value in sums.items()}
    ref_var = mean["ref_sq"] - mean["ref"] ** 2
    robot_mean = mean["ref"] + mean["signed"]
    moves = ref_var > 1e-8
    follow = torch.where(moves, (mean["robot_ref"] - robot_mean * mean["ref"]) / ref_var.clamp(min=1e-8), 0.0)
    joints = [{"name": name, "abs_error": float(mean["abs"][i]), "mean_error": float(mean["signed"][i]),
               "follow": float(follow[i])} for i, name in enumerate(spec.policy_joint_names)]
    bodies = [{"name": name, "error": float(key_total[i] / count)} for i, name in enumerate(spec.key_body_names)]
    return {"joints": sorted(joints, key=lambda row: -row["abs_error"]),
            "key_bodies": sorted(bodies, key=lambda row: -row["error"])}


def _planar_motion(pos0: torch.Tensor, pos1: torch.Tensor, yaw0: torch.Tensor, yaw1: torch.Tensor) -> torch.Tensor:
    """(n, 3): the step's displacement in the starting heading frame (forward, left) and its yaw change."""
    planar = tm.rotate_inverse(tm.from_yaw(yaw0), pos1 - pos0)[:, :2]
    return torch.cat([planar, tm.wrap(yaw1 - yaw0)[:, None]], dim=1)


def command_tracking(env: TrackingEnv, actor: torch.nn.Module, steps: int, settle_frames: int) -> dict[str, float]:
    """Achieved vs reference velocity (vx, vy in the heading frame, yaw rate) under the mean action, gantry off.

    Meant for references that hold one command (CMG clips with a pinned command): only env-steps at least
    ``settle_frames`` into their clip and not ending their episode are measured, for robot and reference alike.
    Also the gait: per :data:`GAIT_JOINTS`, the robot's amplitude over the reference's and its mean offset
    (``<joint>_amplitude``, ``<joint>_offset`` [rad]), the same for the joint targets the policy sends
    (``target_<joint>_amplitude``, ``target_<joint>_offset``: short targets mean the policy chooses a short step,
    full targets with a short joint swing mean the PD loop does not follow), and the fraction of time on both feet
    (``double_support``).
    """
    lib = env.library
    robot, reference = torch.zeros(3), torch.zeros(3)
    measured, falls = 0, 0
    names = list(env.spec.joint_names)
    legs = torch.as_tensor([names.index(f"{side}_{joint}_joint") for joint in GAIT_JOINTS
                            for side in ("left", "right")])
    joints, joints_ref, targets, double_support = [], [], [], []
    obs = env.get_observations()
    with torch.inference_mode(), env.assist.fixed(0.0):
        for _ in range(steps):
            clip_frame = env.motion_start + env.episode_length_buf
            ref0 = lib.index(env.motion_ids, clip_frame)
            pos0, yaw0 = env.sim.root_pos().clone(), tm.yaw(env.sim.root_quat())
            action = actor(obs, stochastic_output=False)
            target = env.io.targets(action)[:, legs]
            obs, _, dones, extras = env.step(action)
            ref1 = lib.index(env.motion_ids, clip_frame + 1)
            keep = ~dones.bool() & (clip_frame >= settle_frames)
            falls += int((dones.bool() & ~extras["time_outs"].bool()).sum())
            robot += _planar_motion(pos0, env.sim.root_pos(), yaw0, tm.yaw(env.sim.root_quat()))[keep].sum(0).cpu()
            reference += _planar_motion(lib.root_pos[ref0], lib.root_pos[ref1], tm.yaw(lib.root_quat[ref0]),
                                        tm.yaw(lib.root_quat[ref1]))[keep].sum(0).cpu()
            measured += int(keep.sum())
            joints.append(torch.where(keep[:, None], env.sim.joint_pos()[:, legs], torch.nan).cpu())
            targets.append(torch.where(keep[:, None], target, torch.nan).cpu())
            joints_ref.append(torch.where(keep[:, None], lib.joint_pos[ref1][:, legs], torch.nan).cpu())
            double_support.append(torch.all(env.sim.foot_force() > CONTACT_FORCE, dim=1)[keep].float().cpu())
    scale = 1.0 / (max(measured, 1) * env.dt)
    out = {name: float(v) * scale for name, v in zip(("vx", "vy", "yaw_rate"), robot)}
    out.update({f"reference_{name}": float(v) * scale for name, v in zip(("vx", "vy", "yaw_rate"), reference)})
    out.update(falls_per_1000_steps=1000.0 * falls / (steps * env.num_envs), measured_steps=float(measured))
    joints_ref = torch.stack(joints_ref)
    out.update(_gait(torch.stack(joints), joints_ref))
    out.update({f"target_{key}": value for key, value in _gait(torch.stack(targets), joints_ref).items()})
    out["double_support"] = float(torch.cat(double_support).mean()) if measured else float("nan")
    return out


def _gait(joints: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """Per GAIT_JOINTS (both sides): robot / reference amplitude (std over time) and mean offset [rad].

    ``joints`` and ``reference`` are (T, N, 2 x joints), NaN where not measured; a reference that keeps a joint
    still (amplitude below :data:`STILL`) has no amplitude ratio (NaN).
    """
    def std_and_mean(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = torch.nanmean(x, dim=0)
        return torch.sqrt(torch.nanmean((x - mean) ** 2, dim=0)), mean

    (std, mean), (std_ref, mean_ref) = std_and_mean(joints), std_and_mean(reference)
    out = {}
    for k, joint in enumerate(GAIT_JOINTS):
        sides = slice(2 * k, 2 * k + 2)
        reference_amplitude = float(torch.nanmean(std_ref[:, sides]))
        out[f"{joint}_amplitude"] = (float(torch.nanmean(std[:, sides])) / reference_amplitude
                                     if reference_amplitude > STILL else float("nan"))
        out[f"{joint}_offset"] = float(torch.nanmean(mean[:, sides] - mean_ref[:, sides]))
    return out
