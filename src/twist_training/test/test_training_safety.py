"""Training never loses work: atomic checkpoints, weights-only loads, non-finite data and losses, resume fallback."""

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from twist_core.motion import save_motion
from twist_core.testing.motion_fixture import OpenOnLoad
from twist_core.toy_models import walking_clip
from twist_training import checkpoint_io
from twist_training.cmg import data as cmg_data
from twist_training.cmg import export as cmg_export
from twist_training.cmg import train as cmg_train
from twist_training.tracking import train as tracking
from twist_training.tracking.checkpoints import checkpoints, latest_checkpoint, load_checkpoint
from twist_training.tracking.config import ConfigError

SMOKE = Path(__file__).resolve().parents[3] / "config" / "tracking" / "smoke.yaml"
TINY_CMG = ["--hidden", "32", "--gate-hidden", "16", "--windows-per-epoch", "128", "--batch", "64", "--no-progress",
            "--threads", "1"]


@pytest.fixture(scope="module")
def clips(spec, tmp_path_factory):
    """Three short synthetic walking clips."""
    root = tmp_path_factory.mktemp("clips")
    for i, vx in enumerate((0.0, 0.5, 0.8)):
        save_motion(walking_clip(spec, 4.0, vx), root / f"clip_{i}.npz")
    return root


@pytest.fixture(scope="module")
def prepared_file(spec, clips, tmp_path_factory):
    """cmg-prepare's output for the clips."""
    path = tmp_path_factory.mktemp("prepared") / "data.npz"
    data = cmg_data.prepare_from_motions(spec, cmg_data.motion_files([str(clips)]), validation_fraction=0.34,
                                         stride=10, progress=False)
    cmg_data.save_data(data, path)
    return path


def test_atomic_save_keeps_the_previous_checkpoint_whole(tmp_path):
    """A save that fails midway (an unpicklable object) leaves the previous file as it was and no temporary file."""
    path = checkpoint_io.save_atomic({"w": torch.ones(3)}, tmp_path / "latest.pt")
    with pytest.raises(Exception):
        checkpoint_io.save_atomic({"w": torch.zeros(3), "bad": lambda: None}, path)
    torch.testing.assert_close(checkpoint_io.load(path)["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pt"]


def test_a_checkpoint_runs_no_code(spec, tmp_path, capsys):
    """A .pt whose pickle would create a file is refused by every loader (weights only); the file never appears."""
    marker = tmp_path / "payload_ran"
    evil = tmp_path / "model_7.pt"
    torch.save({"net": OpenOnLoad(marker)}, evil)
    pickle.loads(pickle.dumps(OpenOnLoad(marker)))  # the payload works when unpickled freely
    assert marker.exists()
    marker.unlink()
    with pytest.raises(checkpoint_io.CheckpointError, match="cannot read checkpoint .*model_7.pt"):
        checkpoint_io.load(evil)
    with pytest.raises(ConfigError, match="cannot read checkpoint"):
        load_checkpoint(evil)
    with pytest.raises(SystemExit) as exit_info:
        cmg_export.main(["--checkpoint", str(evil), "--out", str(tmp_path / "cmg.onnx")])
    assert exit_info.value.code == 2 and "cannot read checkpoint" in capsys.readouterr().err
    assert not marker.exists()


def test_cmg_training_refuses_nan_data(prepared_file, tmp_path, capsys):
    """One NaN in the prepared data: cmg-train exits 2 naming it, before any checkpoint is written."""
    data = dict(np.load(prepared_file))
    data["motion"][3, 2, 5] = np.nan
    np.savez(tmp_path / "nan.npz", **data)
    with pytest.raises(SystemExit) as exit_info:
        cmg_train.main(["--data", str(tmp_path / "nan.npz"), "--out", str(tmp_path / "run"), "--epochs", "1",
                        *TINY_CMG])
    assert exit_info.value.code == 2
    assert "motion holds 1 NaN/Inf value(s) in 1 window(s) (first: window 3)" in capsys.readouterr().err
    assert not (tmp_path / "run" / "latest.pt").exists()


def test_cmg_training_stops_on_nan_and_resumes_past_a_corrupt_checkpoint(prepared_file, tmp_path, capsys,
                                                                         monkeypatch):
    """A NaN loss in epoch 2: exit 3, latest.pt still epoch 1 and finite. A truncated latest.pt: the next run resumes
    from best.pt, the newest readable checkpoint."""
    run = ["--data", str(prepared_file), "--out", str(tmp_path / "run"), *TINY_CMG]
    cmg_train.main(run + ["--epochs", "1"])
    good = checkpoint_io.load(tmp_path / "run" / "latest.pt")
    assert good["epoch"] == 1
    real_loss = cmg_train.rollout_loss
    monkeypatch.setattr(cmg_train, "rollout_loss", lambda *a, **k: real_loss(*a, **k) * math.nan)
    with pytest.raises(SystemExit) as exit_info:
        cmg_train.main(run + ["--epochs", "2"])
    assert exit_info.value.code == 3
    err = capsys.readouterr().err
    assert "stopped: epoch 2, batch 1: non-finite loss = nan" in err and "(epoch 1) is the last good checkpoint" in err
    kept = checkpoint_io.load(tmp_path / "run" / "latest.pt")
    assert kept["epoch"] == 1 and all(torch.isfinite(v).all() for v in kept["net"].values())
    for key, value in good["net"].items():
        torch.testing.assert_close(kept["net"][key], value)
    monkeypatch.setattr(cmg_train, "rollout_loss", real_loss)
    latest = tmp_path / "run" / "latest.pt"
    latest.write_bytes(latest.read_bytes()[:1000])
    cmg_train.main(run + ["--epochs", "2"])
    out = capsys.readouterr()
    assert "skipping" in out.err and "latest.pt" in out.err and "resuming" in out.out and "best.pt" in out.out
    assert checkpoint_io.load(latest)["epoch"] == 2


def test_tracker_stops_on_a_nan_loss_and_resumes_past_a_corrupt_checkpoint(clips, tmp_path, capsys, monkeypatch):
    """train-teacher: a truncated newest checkpoint is skipped for the newest readable one; a NaN loss exits 3
    before anything of the iteration is saved."""
    config = yaml.safe_load(SMOKE.read_text())
    config["sim"]["threads"] = 1
    (tmp_path / "smoke.yaml").write_text(yaml.safe_dump(config))
    base = ["--config", str(tmp_path / "smoke.yaml"), "--motions", str(clips), "--out", str(tmp_path / "run")]
    tracking.main_teacher(base + ["--iterations", "1"])
    assert [p.name for p in checkpoints(tmp_path / "run")] == ["model_0.pt"]
    (tmp_path / "run" / "model_7.pt").write_bytes((tmp_path / "run" / "model_0.pt").read_bytes()[:5000])
    from rsl_rl.algorithms import PPO

    real_update = PPO.update
    monkeypatch.setattr(PPO, "update", lambda self: {**real_update(self), "surrogate": math.inf})
    with pytest.raises(SystemExit) as exit_info:
        tracking.main_teacher(base + ["--iterations", "3"])
    assert exit_info.value.code == 3
    out = capsys.readouterr()
    assert "skipping" in out.err and "model_7.pt" in out.err and "resuming from model_0.pt" in out.out
    assert "stopped: the policy update: non-finite surrogate = inf" in out.err
    assert "model_0.pt is the last good checkpoint" in out.err
    assert [p.name for p in checkpoints(tmp_path / "run")] == ["model_0.pt", "model_7.pt"]
    monkeypatch.setattr(PPO, "update", real_update)
    (tmp_path / "run" / "model_7.pt").unlink()
    tracking.main_teacher(base + ["--iterations", "2"])
    assert load_checkpoint(latest_checkpoint(tmp_path / "run"))["iter"] == 1
