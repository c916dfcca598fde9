"""The run configuration of train-teacher / train-student: one typed tree, each default written once.

A run is described by :class:`RunConfig`, one dataclass per section; the sections that configure a component are
that component's own dataclass (``task``: :class:`~twist_training.tracking.task.TaskConfig` with its ``rewards``
and ``assist``; ``randomization``: :class:`~twist_training.tracking.batched_sim.DomainRandomization`;
``references.commands`` and ``references.sampling``: the references module's; ``distillation``: the student
algorithm's), so a default is only where its field is declared.

A recipe (``config/tracking/*.yaml``, ``models/<model>/config.yaml``) sets the keys it changes; :func:`load_config`
lays it and ``key.path=value`` overrides (:func:`dotted_overrides`) over the defaults. Unknown keys, values of the
wrong type and values out of range are a :class:`ConfigError` naming the key. :meth:`RunConfig.to_dict` is the
plain, complete configuration that runs write as ``config.yaml`` and embed in every checkpoint;
:meth:`RunConfig.from_dict` reads it back, completing the configurations of older runs with today's defaults.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Union

import yaml

from twist_training.tracking.batched_sim import DomainRandomization
from twist_training.tracking.distillation import DistillationConfig
from twist_training.tracking.references import CommandSampling, Sampling
from twist_training.tracking.sim_model import COLLISION_MODELS
from twist_training.tracking.task import TaskConfig

SCHEDULES = ("adaptive", "fixed")  # rsl-rl PPO's learning-rate schedules


class ConfigError(ValueError):
    """A configuration file, override or run that cannot be used."""


def _require(condition: bool, message: str) -> None:
    """Raise ValueError(``message``) unless ``condition`` (the dataclasses' range checks)."""
    if not condition:
        raise ValueError(message)


@dataclasses.dataclass
class SimConfig:
    """The batched simulation."""

    num_envs: int = 1024
    physics_dt: float = 0.005
    decimation: int = 4  # physics steps per control step
    threads: int = 2  # simulation and torch CPU threads
    collision: str = "full"  # or capsules (sim_model.py): the training collision model

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        _require(self.num_envs >= 1 and self.decimation >= 1 and self.threads >= 1,
                 "num_envs, decimation and threads must be >= 1")
        _require(self.physics_dt > 0, f"physics_dt must be > 0, not {self.physics_dt}")
        _require(self.collision in COLLISION_MODELS,
                 f"collision must be one of {', '.join(COLLISION_MODELS)}, not {self.collision!r}")


@dataclasses.dataclass
class ReferencesConfig:
    """Reference clips: motion files and lists, and clips the CMG generates under random commands."""

    #: Motion lists (YAML), directories and files, or ``{path, weight}`` (``references.clips_from_inputs``).
    motions: list[str | dict[str, Any]] = dataclasses.field(default_factory=list)
    cmg_model: str = ""  # an exported CMG (.onnx)
    cmg_clips: int = 0
    cmg_seconds: float = 20.0
    cmg_weight: float = 1.0  # the generated clips' total weight against the motions'
    commands: CommandSampling = dataclasses.field(default_factory=CommandSampling)
    sampling: Sampling = dataclasses.field(default_factory=Sampling)  # clip (TWIST's) or segment (failure-weighted)

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        _require(self.cmg_clips >= 0 and self.cmg_seconds > 0 and self.cmg_weight >= 0,
                 "cmg_clips and cmg_weight must be >= 0, cmg_seconds > 0")
        _require(self.cmg_clips == 0 or bool(self.cmg_model), "cmg_clips > 0 needs cmg_model (an exported CMG)")


@dataclasses.dataclass
class RunnerConfig:
    """rsl-rl's runner: rollout length, checkpoint interval, checkpoints kept."""

    num_steps_per_env: int = 24
    save_interval: int = 50
    keep: int = 2

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        _require(min(self.num_steps_per_env, self.save_interval, self.keep) >= 1,
                 "num_steps_per_env, save_interval and keep must be >= 1")


@dataclasses.dataclass
class AlgorithmConfig:
    """rsl-rl's PPO (TWIST's values)."""

    num_learning_epochs: int = 5
    num_mini_batches: int = 4
    clip_param: float = 0.2
    gamma: float = 0.99
    lam: float = 0.95
    value_loss_coef: float = 1.0
    entropy_coef: float = 0.005
    learning_rate: float = 2e-4
    max_grad_norm: float = 1.0
    use_clipped_value_loss: bool = True
    schedule: str = "adaptive"
    desired_kl: float = 0.008
    use_mixed_precision: bool = False  # bfloat16 autocast in the update: 2x on CPUs with AVX512-BF16

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        _require(self.num_learning_epochs >= 1 and self.num_mini_batches >= 1,
                 "num_learning_epochs and num_mini_batches must be >= 1")
        _require(self.learning_rate > 0 and self.desired_kl > 0, "learning_rate and desired_kl must be > 0")
        _require(0 < self.gamma <= 1 and 0 <= self.lam <= 1, "gamma must be in (0, 1], lam in [0, 1]")
        _require(self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")


@dataclasses.dataclass
class NetworkConfig:
    """The actor's and critic's MLPs."""

    actor_hidden: tuple[int, ...] = (512, 512, 256, 128)
    critic_hidden: tuple[int, ...] = (512, 512, 256, 128)
    activation: str = "elu"  # rsl-rl's activation names
    init_std: float = 1.0  # the actor's initial action standard deviation

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        _require(all(n >= 1 for n in (*self.actor_hidden, *self.critic_hidden)), "hidden sizes must be >= 1")
        _require(self.init_std > 0, f"init_std must be > 0, not {self.init_std}")


@dataclasses.dataclass
class RunConfig:
    """Every key a run configuration may set, with its default (TWIST's values where it has them)."""

    iterations: int = 10000  # the total, resumed runs included
    seed: int = 0
    sim: SimConfig = dataclasses.field(default_factory=SimConfig)
    task: TaskConfig = dataclasses.field(default_factory=TaskConfig)
    randomization: DomainRandomization = dataclasses.field(default_factory=DomainRandomization)
    references: ReferencesConfig = dataclasses.field(default_factory=ReferencesConfig)
    runner: RunnerConfig = dataclasses.field(default_factory=RunnerConfig)
    algorithm: AlgorithmConfig = dataclasses.field(default_factory=AlgorithmConfig)
    network: NetworkConfig = dataclasses.field(default_factory=NetworkConfig)
    distillation: DistillationConfig = dataclasses.field(default_factory=DistillationConfig)

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        _require(self.iterations >= 0, f"iterations must be >= 0, not {self.iterations}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """The configuration ``data`` (plain YAML/JSON values) sets, the defaults for every key it leaves out."""
        return _build(cls, data, "")

    def to_dict(self) -> dict[str, Any]:
        """The complete configuration as plain values (lists, not tuples): what runs write and checkpoints hold."""
        return _plain(dataclasses.asdict(self))

    def override(self, override: dict[str, Any]) -> RunConfig:
        """This configuration with the nested ``override`` laid over it (checked like a file)."""
        return RunConfig.from_dict(merge(self.to_dict(), override))


#: Overrides for evaluation or learning checks without robustness training: no sensor noise, pushes, action delay
#: or physics randomization.
QUIET_PHYSICS: dict[str, Any] = {
    "task": {"noise_joint_pos": 0.0, "noise_joint_vel": 0.0, "noise_gyro": 0.0, "noise_tilt": 0.0,
             "push_velocity": 0.0, "max_action_delay": 0},
    "randomization": {"enabled": False, "variants": 1},
}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``override`` recursively (mappings merge, anything else replaces); neither changes."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def dotted_overrides(assignments: list[str]) -> dict[str, Any]:
    """``["algorithm.learning_rate=1e-3", ...]`` (values in YAML) as one nested override for :func:`merge`."""
    override: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"an override is KEY=VALUE (dotted key, YAML value), not {assignment!r}")
        *parents, leaf = key.strip().split(".")
        node = override
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{assignment!r} sets inside {part!r}, which another override sets to a value")
        try:
            node[leaf] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{assignment!r}: the value is not YAML: {exc}") from None
    return override


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """The defaults, then the YAML recipe at ``path`` (if any), then the nested ``overrides``."""
    recipe: Any = {}
    if path is not None:
        try:
            recipe = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        try:
            RunConfig.from_dict(recipe)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    if not overrides:
        return RunConfig.from_dict(recipe)
    try:
        return RunConfig.from_dict(merge(recipe, overrides))
    except ConfigError as exc:
        raise ConfigError(f"override: {exc}") from None


def model_config(network: NetworkConfig, part: str) -> dict[str, Any]:
    """rsl-rl model configuration of the ``actor`` or ``critic``."""
    out = {"class_name": "rsl_rl.models:MLPModel", "hidden_dims": list(getattr(network, f"{part}_hidden")),
           "activation": network.activation, "obs_normalization": True}
    if part == "actor":
        out["distribution_cfg"] = {"class_name": "rsl_rl.modules:GaussianDistribution", "init_std": network.init_std}
    return out


def runner_config(config: RunConfig, role: str) -> dict[str, Any]:
    """rsl-rl's train_cfg for ``role``: the teacher's PPO, or the student's PPO + KL to the teacher."""
    algorithm = dataclasses.asdict(config.algorithm)
    if role == "teacher":
        algorithm["class_name"] = "rsl_rl.algorithms:PPO"
        groups = {"actor": ["teacher"], "critic": ["teacher", "assist"]}
    else:
        algorithm.update(class_name="twist_training.tracking.distillation:DistilledPPO",
                         **dataclasses.asdict(config.distillation))
        groups = {"actor": ["student"], "critic": ["teacher", "assist"]}
    return {"num_steps_per_env": config.runner.num_steps_per_env, "save_interval": config.runner.save_interval,
            "obs_groups": groups, "algorithm": algorithm, "actor": model_config(config.network, "actor"),
            "critic": model_config(config.network, "critic"), "logger": "tensorboard", "check_for_nan": True}


def _build(cls: type, data: Any, where: str) -> Any:
    """The dataclass ``cls`` from the mapping ``data`` at key path ``where``; missing keys keep their defaults."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'a configuration'} must be a mapping of keys to values, not {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = [str(key) for key in data if key not in names]
    if unknown:
        raise ConfigError(f"unknown configuration key{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(_key(where, k) for k in unknown)} "
                          f"(known{' in ' + where if where else ''}: {', '.join(names)})")
    values = {key: _convert(value, hints[key], _key(where, key)) for key, value in data.items()}
    try:
        return cls(**values)
    except ValueError as exc:
        raise ConfigError(f"{where or 'configuration'}: {exc}") from None


def _convert(value: Any, hint: Any, where: str) -> Any:
    """``value`` checked against the type ``hint`` (lists become tuples where a tuple is declared)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin in (Union, types.UnionType):
        for option in args:
            try:
                return _convert(value, option, where)
            except ConfigError:
                pass
    elif origin in (tuple, list) and isinstance(value, (list, tuple)):
        items = args[:1] * len(value) if origin is list or args[1:] == (Ellipsis,) else args
        if len(items) == len(value):
            converted = [_convert(v, h, f"{where}[{i}]") for i, (v, h) in enumerate(zip(value, items))]
            return tuple(converted) if origin is tuple else converted
    elif origin is dict and isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return dict(value)
    elif hint is bool and isinstance(value, bool):
        return value
    elif hint in (int, float) and isinstance(value, int) and not isinstance(value, bool):
        return hint(value)
    elif hint is float and isinstance(value, float) or hint is str and isinstance(value, str):
        return value
    note = ""
    if hint is float and isinstance(value, str):
        with contextlib.suppress(ValueError):
            float(value)
            note = f" (YAML reads {value} as a string: write it with a decimal point, e.g. 1.0e-3)"
    raise ConfigError(f"{where} must be {_describe(hint)}, not {value!r}{note}")


def _describe(hint: Any) -> str:
    """A type hint in words, for error messages."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin in (tuple, list):
        item = _describe(args[0])
        items = f"{item.split(' ', 1)[1]}s" if " or " not in item else f"items ({item} each)"
        return f"a list of {len(args)} {items}" if origin is tuple and args[1:] != (Ellipsis,) else f"a list of {items}"
    return {bool: "a boolean (true/false)", int: "an integer", float: "a number", str: "a string",
            dict: "a mapping"}.get(origin or hint, str(hint))


def _key(where: str, key: Any) -> str:
    """The dotted key path of ``key`` inside ``where``."""
    return f"{where}.{key}" if where else str(key)


def _plain(value: Any) -> Any:
    """``value`` with every tuple a list (YAML- and JSON-plain, as loaded configurations are)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
