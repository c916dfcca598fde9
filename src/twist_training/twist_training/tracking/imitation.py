"""A supervised warm start before PPO: chosen joints onto the reference, every other joint kept as it was.

Issue 22's general teacher, fine-tuned from the walking teacher, moves the elbows and shoulders with 0.1-0.2 of
the reference's swing (``probe_checkpoint.py --per-part``), where PD targets on the next reference frame alone
track them to about 0.1 rad: a policy problem, and PPO's gradient on the arms' reward terms has not fixed it in
1,900 iterations. :func:`imitate_reference` regresses the actor's mean action by DAgger-style rounds: each round
rolls the current actor out (sampled actions, so the states are the ones it will meet), labels every state with

- for the chosen joints (``joints``, policy order), the action whose PD target is the reference's next frame
  (:func:`reference_actions`),
- for the others, the action of the actor as it was before the warm start (``anchor``: the legs keep the
  balance they learnt),

and fits the mean action to the labels for ``epochs`` passes (Adam, minibatches, the action std untouched).
PPO then starts from an actor that already swings the arms with the reference.

``train-teacher --init-from RUN --imitate-upper-body ROUNDS`` runs it on ``config/g1.yaml``'s ``upper_body``
joints, after the optional normalizer refit (the anchor is the loaded actor before the refit).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import torch
from rsl_rl.models import MLPModel
from tensordict import TensorDict

from twist_training.tracking.task import TrackingEnv


@dataclasses.dataclass(frozen=True)
class ImitationRound:
    """One round: its samples, the mean squared action error before and after fitting, the chosen joints' part."""

    samples: int
    loss_before: float
    loss_after: float
    joints_loss_before: float
    joints_loss_after: float


def reference_actions(env: TrackingEnv) -> torch.Tensor:
    """(envs, actions): the actions whose PD targets are each environment's next reference frame (clipped)."""
    lib = env.library
    following = lib.index(env.motion_ids, env.motion_start + env.episode_length_buf + 1)
    return env.io.actions(lib.joint_pos[following][:, env.policy_idx])


def imitate_reference(env: TrackingEnv, actor: MLPModel, joints: torch.Tensor, rounds: int, steps: int = 24,
                      epochs: int = 4, batch: int = 4096, learning_rate: float = 3e-4,
                      anchor: MLPModel | None = None,
                      report: Callable[[int, ImitationRound], None] | None = None) -> list[ImitationRound]:
    """Fit ``actor``'s mean action: ``joints`` to :func:`reference_actions`, the rest to ``anchor``'s mean action.

    ``anchor``: the actor's behaviour to keep (default: a copy of ``actor`` as it is now). Each of ``rounds``
    rounds samples ``steps`` control steps of every environment with the actor's sampled actions, then runs
    ``epochs`` passes of minibatches of ``batch`` samples. ``report(round, result)`` after each round. Raises
    ValueError for a non-positive count, a joint index outside the actions or a non-finite loss (the actor then
    holds the last finite step's weights).
    """
    if min(rounds, steps, epochs, batch) < 1 or not learning_rate > 0:
        raise ValueError(f"rounds, steps, epochs, batch must be >= 1 and learning_rate > 0, got {rounds}, {steps}, "
                         f"{epochs}, {batch}, {learning_rate}")
    joints = torch.as_tensor(joints, dtype=torch.long, device=env.device)
    if len(joints) == 0 or int(joints.min()) < 0 or int(joints.max()) >= env.num_actions:
        raise ValueError(f"joints must be policy indices in [0, {env.num_actions}), got {joints.tolist()}")
    anchor = anchor if anchor is not None else copy.deepcopy(actor)
    anchor.eval()
    optimizer = torch.optim.Adam([p for n, p in actor.named_parameters() if not n.startswith("distribution")],
                                 lr=learning_rate)
    results = []
    for index in range(rounds):
        observations, labels = _sample(env, actor, anchor, joints, steps)
        before = _losses(actor, observations, labels, joints)
        actor.train()
        for _ in range(epochs):
            for chosen in torch.randperm(len(labels), device=labels.device).split(batch):
                loss = torch.mean((actor(observations[chosen]) - labels[chosen]) ** 2)
                if not bool(torch.isfinite(loss)):
                    raise ValueError(f"imitation round {index}: the loss is not finite")
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        after = _losses(actor, observations, labels, joints)
        results.append(ImitationRound(len(labels), before[0], after[0], before[1], after[1]))
        if report is not None:
            report(index, results[-1])
    return results


def _sample(env: TrackingEnv, actor: MLPModel, anchor: MLPModel, joints: torch.Tensor, steps: int
            ) -> tuple[TensorDict, torch.Tensor]:
    """``steps`` steps of every environment under the actor's sampled actions: the observations and their labels."""
    observations, labels = [], []
    obs = env.get_observations()
    actor.eval()
    with torch.inference_mode():  # as PPO's rollouts: the environment's buffers are inference tensors
        for _ in range(steps):
            label = anchor(obs)
            label[:, joints] = reference_actions(env)[:, joints]
            observations.append(obs)
            labels.append(label)
            obs = env.step(actor(obs, stochastic_output=True))[0]
    return torch.cat(observations).clone(), torch.cat(labels).clone()  # out of inference mode: usable for learning


def _losses(actor: MLPModel, observations: TensorDict, labels: torch.Tensor, joints: torch.Tensor
            ) -> tuple[float, float]:
    """Mean squared error of the actor's mean action against the labels: all actions, the chosen joints."""
    with torch.no_grad():
        error = (actor(observations) - labels) ** 2
    return float(error.mean()), float(error[:, joints].mean())
