"""The shipped models and their recipes: what is embedded in each model is what its committed configuration says,
and nothing committed names a path of the machine it was made on."""

import json
from pathlib import Path

import onnx
import pytest
import torch
import yaml

from twist_training.tracking.checkpoints import checkpoint_config, load_checkpoint
from twist_training.tracking.config import RunConfig, load_config

ROOT = Path(__file__).resolve().parents[3]
MODELS = ROOT / "models"
TRACKERS = [("teacher", "model_5399.pt"), ("student", "model_125.pt"), ("teacher_mocap", "model_850.pt"),
            ("teacher_wide", "model_1275.pt")]


def _located(config: dict) -> dict:
    """``config`` with each motion source reduced to its last two path components: runs record the data where it
    lay on the training machine, the recipe names it relative to the workspace (``data/walk400``)."""
    references = dict(config["references"])
    references["motions"] = ["/".join(Path(str(m)).parts[-2:]) for m in references["motions"]]
    return {**config, "references": references}


@pytest.mark.parametrize("name, checkpoint", TRACKERS)
def test_tracker_checkpoint_was_trained_with_its_recipe(name, checkpoint):
    """The configuration inside the shipped checkpoint (and the student's ONNX) is models/<name>/config.yaml."""
    state = load_checkpoint(MODELS / name / checkpoint)
    recipe = load_config(MODELS / name / "config.yaml").to_dict()
    assert _located(checkpoint_config(state).to_dict()) == _located(recipe)
    if name == "student":
        metadata = {p.key: p.value for p in onnx.load(str(MODELS / name / "policy.onnx")).metadata_props}
        embedded = RunConfig.from_dict(json.loads(metadata["training_config"])).to_dict()
        assert _located(embedded) == _located(recipe)


def test_cmg_checkpoint_was_trained_with_its_recipe():
    """The CMG's checkpoint carries the fine-tuning run's configuration, models/cmg/finetune_config.json."""
    state = torch.load(MODELS / "cmg" / "best.pt", map_location="cpu", weights_only=True)
    assert state["config"] == json.loads((MODELS / "cmg" / "finetune_config.json").read_text())


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def test_no_machine_paths_in_committed_configurations():
    """Configurations and results under models/ and config/ name paths relative to the workspace."""
    files = [*MODELS.rglob("*.yaml"), *MODELS.rglob("*.json"), *(ROOT / "config").rglob("*.yaml")]
    assert len(files) > 5
    absolute = [(f.relative_to(ROOT), s) for f in files
                for s in _strings(yaml.safe_load(f.read_text()) if f.suffix == ".yaml" else json.loads(f.read_text()))
                if s.startswith(("/", "~")) or s[1:3] == ":\\"]
    assert not absolute, absolute
