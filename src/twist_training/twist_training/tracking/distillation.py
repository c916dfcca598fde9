"""The student's algorithm: PPO plus a KL term pulling the student's action distribution to the teacher's.

TWIST trains its student with rollouts of the student, the PPO loss, and ``coef * KL(N_student || N_teacher)``,
the teacher's Gaussian computed on the privileged observation. Its coefficient schedule compounds a cosine factor
every iteration, so it is ~0 after a few thousand iterations (a defect); here the coefficient follows a plain
cosine from ``kl_coef_start`` to ``kl_coef_end`` over ``kl_decay_iterations`` updates, then stays at the floor.

rsl-rl's PPO has one hook for an extra loss per mini-batch (its symmetry extension: ``augment_batch``, then
``compute_loss(actor, batch, n)`` after the actor's forward pass, weighted by ``mirror_loss_coeff``);
:class:`DistilledPPO` plugs the KL term into that hook instead of forking PPO's update.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from rsl_rl.algorithms import PPO
from rsl_rl.models import MLPModel


def gaussian_kl(mean_p: torch.Tensor, std_p: torch.Tensor, mean_q: torch.Tensor, std_q: torch.Tensor) -> torch.Tensor:
    """KL(N_p || N_q) of diagonal Gaussians, summed over the last dimension."""
    var_p, var_q = std_p ** 2, std_q ** 2
    return torch.sum(torch.log(std_q / std_p) + (var_p + (mean_p - mean_q) ** 2) / (2.0 * var_q) - 0.5, dim=-1)


def kl_coefficient(update: int, start: float, end: float, decay_updates: int) -> float:
    """The KL weight after ``update`` updates: cosine from ``start`` to ``end`` over ``decay_updates``."""
    if decay_updates <= 0:
        return end
    progress = min(1.0, update / decay_updates)
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclasses.dataclass
class DistillationConfig:
    """The KL coefficient's schedule: cosine from ``kl_coef_start`` to ``kl_coef_end`` over the decay."""

    kl_coef_start: float = 0.1
    kl_coef_end: float = 0.01
    kl_decay_iterations: int = 3000

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        if not (self.kl_coef_start >= 0 and self.kl_coef_end >= 0 and self.kl_decay_iterations >= 0):
            raise ValueError("kl_coef_start, kl_coef_end and kl_decay_iterations must be >= 0")


class _TeacherKl:
    """The PPO extra-loss hook: KL from the student's current distribution to the frozen teacher's."""

    use_mirror_loss = True

    def __init__(self, teacher: MLPModel) -> None:
        self.teacher = teacher
        self.mirror_loss_coeff = 0.0

    def augment_batch(self, batch: Any, original_batch_size: int) -> None:
        """No augmentation: the batch is used as collected."""

    def compute_loss(self, actor: MLPModel, batch: Any, original_batch_size: int) -> torch.Tensor:
        """Mean KL(student || teacher) over the mini-batch (the actor's forward pass has just run on it)."""
        mean, std = (p[:original_batch_size] for p in actor.output_distribution_params)
        with torch.no_grad():
            self.teacher(batch.observations[:original_batch_size], stochastic_output=True)
            teacher_mean, teacher_std = self.teacher.output_distribution_params
        return gaussian_kl(mean, std, teacher_mean, teacher_std).mean()


class DistilledPPO(PPO):
    """PPO whose loss adds ``kl_coef * KL(student || teacher)``; call :meth:`set_teacher` before learning."""

    def __init__(self, *args: Any, kl_coef_start: float, kl_coef_end: float, kl_decay_iterations: int,
                 **kwargs: Any) -> None:
        """PPO's arguments plus the KL schedule (:class:`DistillationConfig`'s fields, from the run configuration)."""
        super().__init__(*args, **kwargs)
        self.kl_schedule = (float(kl_coef_start), float(kl_coef_end), int(kl_decay_iterations))
        self.updates = 0
        self.symmetry = None

    def set_teacher(self, teacher: MLPModel) -> None:
        """Freeze ``teacher`` (an actor reading the privileged observation) and use it in every update."""
        teacher.eval()
        for parameter in teacher.parameters():
            parameter.requires_grad_(False)
        self.symmetry = _TeacherKl(teacher.to(self.device))

    def update(self) -> dict[str, float]:
        """One PPO update with the KL term at this update's coefficient; reports it as ``distillation``."""
        if self.symmetry is None:
            raise RuntimeError("DistilledPPO needs set_teacher() before the first update")
        self.symmetry.mirror_loss_coeff = kl_coefficient(self.updates, *self.kl_schedule)
        losses = super().update()
        losses["distillation"] = losses.pop("symmetry")
        losses["distillation_coef"] = self.symmetry.mirror_loss_coeff
        self.updates += 1
        return losses

    def save(self) -> dict:
        """PPO's state plus the number of updates (the schedule resumes where it was)."""
        state = super().save()
        state["distillation_updates"] = self.updates
        return state

    def load(self, loaded_dict: dict, load_cfg: dict | None, strict: bool) -> bool:
        """PPO's load plus the number of updates."""
        self.updates = int(loaded_dict.get("distillation_updates", 0))
        return super().load(loaded_dict, load_cfg, strict)
