"""Refit a trained network's observation normalizer to new references without changing what it computes.

rsl-rl's actor and critic divide every observation by running statistics (``EmpiricalNormalization``: mean, std +
0.01, a sample count) before their first layer. A network fine-tuned on other references (``--init-from``) keeps its
old statistics, and they hardly move: their count is the whole earlier run (66 million samples for the walking
teacher), so new data enters at the rate new samples / all samples. An input that was constant before is the worst
case: the walking teacher saw the arms' reference angles with a spread of 0.002 rad, so on human motion capture the
normalized arm references were about +-100 where its first layer expected about +-1, and the general teacher
fine-tuned from it (1,925 iterations) moved the elbows and shoulders with 0.15-0.2 of the reference's swing.

:func:`refit_normalizer` measures the statistics on observations of the new references and rewrites the first
layer so that the network's output is unchanged for every input (weights scaled per input by new / old scale, the
bias shifted by the mean's move), then restarts the count at the sample, so the statistics follow the new data at
the usual rate. An input whose spread grew more than ``max_growth`` times (it was about constant before: the
network never learnt what it means) gets zero weights instead of scaled ones: the network starts out ignoring it,
where it used to see it near its constant value, and learns it at a normal input scale.

Opt-in: ``train-teacher`` / ``train-student --init-from RUN --refit-normalizer``. Measured once (2-core CPU): the
general teacher's recipe from the walking teacher with it was behind the run without it at iteration 100 and
still at 175 (probe on the training split: 39 falls per 1,000 steps against 24 at 100, elbows still following
0.15 of the swing; its gantry stayed at 0.24 where the other's fell to 0); so not the default.
"""

from __future__ import annotations

import dataclasses

import torch
from rsl_rl.models import MLPModel


@dataclasses.dataclass(frozen=True)
class Refit:
    """What :func:`refit_normalizer` changed: inputs rescaled and inputs whose weights were zeroed (new inputs)."""

    inputs: int
    samples: int
    rescaled: int
    zeroed: tuple[int, ...]
    largest_growth: float


def refit_normalizer(model: MLPModel, latent: torch.Tensor, max_growth: float = 10.0) -> Refit:
    """Fit ``model``'s observation normalizer to ``latent`` (samples, inputs), its output unchanged but for new inputs.

    ``latent``: the model's concatenated observation groups, before normalization, of the new references. Raises
    ValueError for a model without an observation normalizer, a shape that is not the model's input, fewer than two
    samples or non-finite values.
    """
    normalizer = model.obs_normalizer
    if not hasattr(normalizer, "_mean"):
        raise ValueError("the model has no observation normalizer (network obs_normalization off)")
    first = model.mlp[0]
    if latent.dim() != 2 or latent.shape[1] != first.in_features or latent.shape[0] < 2:
        raise ValueError(f"need (samples >= 2, {first.in_features}) observations, got {tuple(latent.shape)}")
    if not bool(torch.isfinite(latent).all()):
        raise ValueError("the observations to refit the normalizer on are not all finite")
    if not max_growth > 1.0:
        raise ValueError(f"max_growth must be > 1, got {max_growth}")
    with torch.no_grad():
        latent = latent.to(normalizer._mean.device, torch.float32)
        mean = latent.mean(0, keepdim=True)
        var = latent.var(0, unbiased=False, keepdim=True)
        std = var.sqrt()
        old_scale = normalizer._std + normalizer.eps
        new_scale = std + normalizer.eps
        growth = (new_scale / old_scale).squeeze(0)
        new_input = growth > max_growth
        weight = first.weight
        first.bias += weight @ ((mean - normalizer._mean) / old_scale).squeeze(0).masked_fill(new_input, 0.0)
        weight *= (new_scale / old_scale).masked_fill(new_input[None], 0.0)
        normalizer._mean.copy_(mean)
        normalizer._var.copy_(var)
        normalizer._std.copy_(std)
        normalizer.count.fill_(latent.shape[0])
    zeroed = tuple(int(i) for i in torch.nonzero(new_input).flatten())
    return Refit(inputs=first.in_features, samples=latent.shape[0], rescaled=first.in_features - len(zeroed),
                 zeroed=zeroed, largest_growth=float(growth.max()))
