"""Refitting a trained network's observation normalizer to new references (tracking/normalization.py)."""

import pytest
import torch
from rsl_rl.models import MLPModel
from tensordict import TensorDict

from twist_training.tracking.normalization import refit_normalizer


def _model(old: torch.Tensor) -> MLPModel:
    """A small actor whose normalizer learnt the samples ``old`` (inputs 0-3 spread, input 4 constant)."""
    torch.manual_seed(0)
    obs = TensorDict({"policy": old}, batch_size=[len(old)])
    model = MLPModel(obs, {"actor": ["policy"]}, "actor", 2, hidden_dims=(16, 16), obs_normalization=True)
    model.train()
    model.obs_normalizer.update(old)
    return model


def test_refit_keeps_the_output_and_zeroes_inputs_that_were_constant():
    """Outputs are unchanged on any input where the constant input keeps its old value; the statistics become the
    new sample's (count restarted); the input whose spread grew from nothing gets zero weights."""
    old = torch.randn(4000, 5)
    old[:, 4] = 1.2  # an arm held at its default angle in every walking clip
    model = _model(old)
    new = torch.randn(3000, 5) * torch.tensor([0.5, 2.0, 1.0, 3.0, 0.6]) + torch.tensor([1.0, -2.0, 0.0, 5.0, 0.4])
    probe = new.clone()
    probe[:, 4] = 1.2
    with torch.no_grad():
        before = model.mlp(model.obs_normalizer(probe))
    refit = refit_normalizer(model, new)
    with torch.no_grad():
        after = model.mlp(model.obs_normalizer(probe))
        torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)
        unchanged = model.mlp(model.obs_normalizer(new))
        new_arm = new.clone()
        new_arm[:, 4] = -0.5
        torch.testing.assert_close(model.mlp(model.obs_normalizer(new_arm)), unchanged)  # input 4 is ignored
    assert refit.zeroed == (4,) and refit.rescaled == 4 and refit.samples == 3000 and refit.largest_growth > 10
    assert not bool(model.mlp[0].weight[:, 4].any()) and bool(model.mlp[0].weight[:, :4].all())
    torch.testing.assert_close(model.obs_normalizer.mean, new.mean(0))
    torch.testing.assert_close(model.obs_normalizer.std, new.std(0, unbiased=False))
    assert int(model.obs_normalizer.count) == 3000


def test_refit_on_the_same_data_changes_nothing_it_computes():
    """Statistics measured on the data the normalizer already learnt: no input zeroed, output the same."""
    old = torch.randn(2000, 5) * 3.0 + 1.0
    model = _model(old)
    with torch.no_grad():
        before = model.mlp(model.obs_normalizer(old))
    refit = refit_normalizer(model, old)
    with torch.no_grad():
        torch.testing.assert_close(model.mlp(model.obs_normalizer(old)), before, rtol=1e-5, atol=1e-5)
    assert refit.zeroed == () and refit.largest_growth == pytest.approx(1.0, abs=0.01)


def test_refit_refuses_bad_samples_and_models_without_a_normalizer():
    """Wrong width, one sample, NaN, max_growth <= 1 and a model without normalizer: ValueError, nothing changed."""
    model = _model(torch.randn(100, 5))
    weights = model.mlp[0].weight.clone()
    for bad, message in ((torch.randn(10, 4), r"need \(samples >= 2, 5\)"), (torch.randn(1, 5), "samples >= 2"),
                         (torch.full((10, 5), float("nan")), "not all finite")):
        with pytest.raises(ValueError, match=message):
            refit_normalizer(model, bad)
    with pytest.raises(ValueError, match="max_growth must be > 1"):
        refit_normalizer(model, torch.randn(10, 5), max_growth=1.0)
    assert torch.equal(model.mlp[0].weight, weights)
    plain = MLPModel(TensorDict({"policy": torch.zeros(2, 5)}, batch_size=[2]), {"actor": ["policy"]}, "actor", 2,
                     hidden_dims=(8,))
    with pytest.raises(ValueError, match="no observation normalizer"):
        refit_normalizer(plain, torch.randn(10, 5))
