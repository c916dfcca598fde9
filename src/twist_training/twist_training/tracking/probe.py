"""Probing a tracker policy without help: how long its episodes last and how well it tracks.

Used by ``scripts/learning_check.py`` (before and after a short run) and ``scripts/probe_checkpoint.py`` (any
train-teacher checkpoint).
"""

from __future__ import annotations

import torch

from twist_training.tracking.task import TrackingEnv

ERRORS = ("joint", "keybody", "root_vel")


def probe(env: TrackingEnv, actor: torch.nn.Module, steps: int, assist: float = 0.0) -> dict[str, float]:
    """Episode length, falls, reward per step and tracking errors, sampling actions and with the mean action.

    Each probe runs ``steps`` control steps of every environment with the gantry held at ``assist`` (none by
    default); episode length = env-steps over episodes started, so running episodes count too (episodes also
    end with their clip); falls = terminations other than the clip's end, per 1000 env-steps; the joint [rad],
    key-body [m] and root-velocity [m/s] errors are means over every env-step.
    """
    out = {}
    for name, stochastic in (("", True), ("deterministic_", False)):
        obs = env.get_observations()
        ended, falls, reward = 0, 0, 0.0
        errors = dict.fromkeys(ERRORS, 0.0)
        with torch.inference_mode(), env.assist.fixed(assist):
            for _ in range(steps):
                obs, rewards, dones, extras = env.step(actor(obs, stochastic_output=stochastic))
                ended += int(dones.sum())
                falls += int((dones.bool() & ~extras["time_outs"].bool()).sum())
                reward += float(rewards.mean())
                for key in ERRORS:
                    errors[key] += float(extras["errors"][key].mean())
        out[f"{name}episode_length"] = steps * env.num_envs / (ended + env.num_envs)
        out[f"{name}falls_per_1000_steps"] = 1000.0 * falls / (steps * env.num_envs)
        out[f"{name}reward_per_step"] = reward / steps
        out.update({f"{name}{key}_error": value / steps for key, value in errors.items()})
    return out
