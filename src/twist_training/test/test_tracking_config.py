"""The tracker's run configuration: the recorded defaults, the recipes on top of them, round trips through the plain
dict that runs write, and clear errors for unknown keys, wrong types and bad values (a message, not a traceback)."""

import json
from pathlib import Path

import pytest
import yaml

from twist_training.tracking import train as tracking
from twist_training.tracking.config import ConfigError, RunConfig, dotted_overrides, load_config, merge

ROOT = Path(__file__).resolve().parents[3]
DEFAULTS = yaml.safe_load((Path(__file__).parent / "tracking_defaults.yaml").read_text())
RECIPES = sorted((ROOT / "config" / "tracking").glob("*.yaml")) + sorted((ROOT / "models").glob("*/config.yaml"))


def test_defaults_are_the_recorded_ones():
    """Every default of the tree is the one recorded in tracking_defaults.yaml (none changes unnoticed)."""
    assert RunConfig().to_dict() == DEFAULTS


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_recipe_is_the_recorded_defaults_with_its_keys(recipe):
    """Each checked-in recipe resolves to the recorded defaults with exactly the keys it sets, and survives the
    round trip through the plain dict runs write (YAML) and checkpoints and ONNX metadata embed (JSON)."""
    config = load_config(recipe)
    plain = config.to_dict()
    assert plain == merge(DEFAULTS, yaml.safe_load(recipe.read_text()))
    assert RunConfig.from_dict(yaml.safe_load(yaml.safe_dump(plain))) == config
    assert RunConfig.from_dict(json.loads(json.dumps(plain))) == config


def test_typed_values_and_older_configurations():
    """Lists become the declared tuples, integers the declared floats; keys a configuration lacks (written before
    they existed) get the defaults; overrides lay over a configuration without changing it."""
    config = RunConfig.from_dict({"sim": {"num_envs": 8}, "task": {"push_interval": [1, 2]},
                                  "references": {"commands": {"vy": [-0.2, 0.3]}, "cmg_weight": 2}})
    assert config.task.push_interval == (1.0, 2.0) and isinstance(config.task.push_interval[0], float)
    assert config.references.commands.vy == (-0.2, 0.3) and config.references.commands.yaw_rate == 1.0
    assert config.references.cmg_weight == 2.0 and isinstance(config.references.cmg_weight, float)
    assert config.sim.collision == "full" and config.algorithm.use_mixed_precision is False
    faster = config.override({"algorithm": {"learning_rate": 1e-3}, "sim": {"threads": 1}})
    assert faster.algorithm.learning_rate == 1e-3 and faster.sim.num_envs == 8 and faster.sim.threads == 1
    assert config.algorithm.learning_rate == 2e-4 and config.sim.threads == 2
    assert dotted_overrides(["a.b=2", "a.c=[1, 2]", "d=x"]) == {"a": {"b": 2, "c": [1, 2]}, "d": "x"}


@pytest.mark.parametrize("override, message", [
    ({"algorithm": {"learning_rat": 1e-3}}, r"unknown configuration key algorithm\.learning_rat \(known in algorithm"),
    ({"task": {"rewards": {"tracking_everything": 1.0}}}, r"unknown configuration key task\.rewards\.tracking_every"),
    ({"task": {"num_envs": 8}}, r"unknown configuration key task\.num_envs"),
    ({"references": {"commands": {"vz": 1.0}}}, r"unknown configuration key references\.commands\.vz"),
    ({"simulation": {}}, r"unknown configuration key simulation \(known: iterations, seed, sim, "),
    ({"algorithm": {"learning_rate": "5e-4"}},
     r"algorithm\.learning_rate must be a number, not '5e-4' \(YAML reads 5e-4 as a string"),
    ({"sim": {"num_envs": 1.5}}, r"sim\.num_envs must be an integer, not 1\.5"),
    ({"sim": {"num_envs": True}}, r"sim\.num_envs must be an integer, not True"),
    ({"algorithm": {"use_clipped_value_loss": "yes"}}, r"use_clipped_value_loss must be a boolean"),
    ({"randomization": {"friction": [0.1]}}, r"randomization\.friction must be a list of 2 numbers, not \[0\.1\]"),
    ({"references": {"commands": {"vy": "wide"}}}, r"commands\.vy must be a number or a list of 2 numbers"),
    ({"network": {"actor_hidden": [64, "x"]}}, r"network\.actor_hidden\[1\] must be an integer, not 'x'"),
    ({"references": {"motions": "data/walk400"}}, r"references\.motions must be a list of items \(a string or a"),
    ({"task": 3}, r"task must be a mapping of keys to values, not 3"),
    ({"sim": {"num_envs": 0}}, r"sim: num_envs, decimation and threads must be >= 1"),
    ({"sim": {"collision": "boxes"}}, r"sim: collision must be one of full, capsules, not 'boxes'"),
    ({"algorithm": {"schedule": "cosine"}}, r"algorithm: schedule must be one of adaptive, fixed, not 'cosine'"),
    ({"references": {"sampling": {"mode": "hard"}}}, r"references\.sampling: sampling mode must be"),
    ({"references": {"cmg_clips": 8}}, r"references: cmg_clips > 0 needs cmg_model"),
    ({"task": {"assist": {"initial": 2.0}}}, r"task\.assist: initial must be in \[0, 1\]"),
    ({"randomization": {"variants": 0}}, r"randomization: variants must be >= 1"),
    ({"distillation": {"kl_decay_iterations": -1}}, r"distillation: .* must be >= 0"),
    ({"iterations": -1}, r"configuration: iterations must be >= 0"),
])
def test_bad_configurations_are_refused_naming_the_key(override, message):
    """Unknown keys, wrong types and values that cannot work: a ConfigError naming the key."""
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict(override)


def test_files_and_overrides_are_checked(tmp_path):
    """A recipe's error names the file; an override's says it is one; unreadable files and bad assignments too."""
    (tmp_path / "bad.yaml").write_text("sim:\n  num_env: 16\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: unknown configuration key sim\.num_env "):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "good.yaml").write_text("sim:\n  num_envs: 16\n")
    assert load_config(tmp_path / "good.yaml", {"seed": 3}).seed == 3
    with pytest.raises(ConfigError, match=r"override: sim: num_envs, decimation and threads must be >= 1"):
        load_config(tmp_path / "good.yaml", {"sim": {"num_envs": 0}})
    (tmp_path / "list.yaml").write_text("- iterations: 2\n")
    with pytest.raises(ConfigError, match=r"list\.yaml: a configuration must be a mapping"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("sim: [\n")
    with pytest.raises(ConfigError, match=r"cannot read .*broken\.yaml"):
        load_config(tmp_path / "broken.yaml")
    with pytest.raises(ConfigError, match=r"cannot read .*missing\.yaml"):
        load_config(tmp_path / "missing.yaml")
    for assignment in ("algorithm", "=1"):
        with pytest.raises(ConfigError, match="an override is KEY=VALUE"):
            dotted_overrides([assignment])


def test_command_line_errors_are_a_message_and_exit_2(tmp_path, monkeypatch, capsys):
    """train-teacher with a bad recipe or --set: exit 2 with the message on stderr, no traceback, nothing trained;
    --set and the options lay over the recipe."""
    (tmp_path / "bad.yaml").write_text("algorithm:\n  learning_rate: 5e-4\n")
    for argv in (["--config", str(tmp_path / "bad.yaml")],
                 ["--set", "task.rewards.feet_slip=x"], ["--set", "algorithm"], ["--num-envs", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            tracking.main_teacher(argv + ["--out", str(tmp_path / "run")])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.startswith("train-teacher: ") and "Traceback" not in err
    assert not (tmp_path / "run").exists()
    ran = {}
    monkeypatch.setattr(tracking, "train", lambda role, config, *args: ran.update(role=role, config=config))
    tracking.main_teacher(["--config", str(ROOT / "config" / "tracking" / "smoke.yaml"), "--out", str(tmp_path / "run"),
                           "--set", "algorithm.learning_rate=1.0e-3", "sim.num_envs=4", "--num-envs", "8"])
    config = ran["config"]
    assert ran["role"] == "teacher" and config.algorithm.learning_rate == 1e-3 and config.sim.num_envs == 8
    assert config.iterations == 2 and config.network.actor_hidden == (64, 32)
