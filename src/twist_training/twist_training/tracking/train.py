"""train-teacher / train-student: the TWIST tracker on batched MuJoCo with rsl-rl (PPO; PPO + KL to the teacher).

    train-teacher --config config/tracking/teacher.yaml --out runs/teacher
    train-student --config config/tracking/student.yaml --teacher runs/teacher --out runs/student

A run directory holds TensorBoard scalars, ``model_<iteration>.pt`` checkpoints (the newest ``keep`` are kept;
each carries the run's configuration, so export and evaluation need nothing else) and ``config.yaml``. Starting
again with the same ``--out`` resumes from its newest checkpoint (``--restart`` starts over); ``--iterations``
is the total. The teacher's actor and critic read the ``teacher`` observation (future reference frames +
current frame + privileged state); the student's actor reads ``student`` (exactly what the policy node builds),
its critic ``teacher``, initialized from the teacher's critic; the teacher's actor is saved in the student's
checkpoints, so a student run resumes without the teacher run. :func:`weights_only` writes a checkpoint without
the optimizer state (a third of the size, for committing); resuming from one restarts Adam's moments at the
saved learning rate. Checkpoints are written atomically and read with ``weights_only=True``
(``twist_training.checkpoint_io``); resuming skips a checkpoint that does not read for the newest one that does; a
non-finite loss stops the run at once (exit 3), its weights unsaved.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

import torch
import yaml
from rsl_rl.models import MLPModel
from rsl_rl.runners import OnPolicyRunner

from twist_core.cmg_runtime import CmgRuntime
from twist_core.motion import MotionError
from twist_core.robot import RobotSpec, load_robot_spec
from twist_training import checkpoint_io
from twist_training.tracking.assist import AssistConfig
from twist_training.tracking.batched_sim import BatchedSim, CpuBatchedSim, DomainRandomization
from twist_training.tracking.references import (CommandSampling, MotionLibrary, Sampling, clips_from_inputs,
                                                cmg_clips)
from twist_training.tracking.sim_model import COLLISION_MODELS
from twist_training.tracking.task import RewardWeights, TaskConfig, TrackingEnv

ROLES = ("teacher", "student")
CHECKPOINT = re.compile(r"model_(\d+)\.pt$")

#: Every key a configuration file may set, with its default (TWIST's values where it has them).
DEFAULTS: dict[str, Any] = {
    "iterations": 10000,
    "seed": 0,
    "sim": {"num_envs": 1024, "physics_dt": 0.005, "decimation": 4, "threads": 2,
            "collision": "full"},  # or capsules (sim_model.py): the training collision model
    "task": {},  # TaskConfig fields (rewards: RewardWeights fields, assist: AssistConfig fields)
    "randomization": {},  # DomainRandomization fields
    "references": {"motions": [], "cmg_model": "", "cmg_clips": 0, "cmg_seconds": 20.0, "cmg_weight": 1.0,
                   "commands": {},  # CommandSampling fields
                   "sampling": {}},  # Sampling fields (references.py): clip (TWIST's) or segment (failure-weighted)
    "runner": {"num_steps_per_env": 24, "save_interval": 50, "keep": 2},
    "algorithm": {"num_learning_epochs": 5, "num_mini_batches": 4, "clip_param": 0.2, "gamma": 0.99, "lam": 0.95,
                  "value_loss_coef": 1.0, "entropy_coef": 0.005, "learning_rate": 2e-4, "max_grad_norm": 1.0,
                  "use_clipped_value_loss": True, "schedule": "adaptive", "desired_kl": 0.008,
                  "use_mixed_precision": False},  # bfloat16 autocast in the update: 2x on CPUs with AVX512-BF16
    "network": {"actor_hidden": [512, 512, 256, 128], "critic_hidden": [512, 512, 256, 128], "activation": "elu",
                "init_std": 1.0},
    "distillation": {"kl_coef_start": 0.1, "kl_coef_end": 0.01, "kl_decay_iterations": 3000},
}

#: Overrides for evaluation or learning checks without robustness training: no sensor noise, pushes, action delay
#: or physics randomization.
QUIET_PHYSICS: dict[str, Any] = {
    "task": {"noise_joint_pos": 0.0, "noise_joint_vel": 0.0, "noise_gyro": 0.0, "noise_tilt": 0.0,
             "push_velocity": 0.0, "max_action_delay": 0},
    "randomization": {"enabled": False, "variants": 1},
}


class ConfigError(ValueError):
    """A configuration file or override that cannot be used."""


def merge(base: dict[str, Any], override: dict[str, Any], where: str = "") -> dict[str, Any]:
    """``base`` updated by ``override`` recursively; unknown keys of fixed sections are errors."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if key not in out and where not in ("task", "task.rewards", "task.assist", "randomization",
                                            "references.commands", "references.sampling"):
            raise ConfigError(f"unknown configuration key {where + '.' if where else ''}{key}")
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value, f"{where}.{key}" if where else key)
        else:
            out[key] = value
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
        node[leaf] = yaml.safe_load(value)
    return override


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """DEFAULTS, then the YAML file, then ``overrides``."""
    config = DEFAULTS
    if path is not None:
        try:
            config = merge(config, yaml.safe_load(Path(path).read_text()) or {})
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
    return merge(config, overrides or {})


def _dataclass(cls: type, values: dict[str, Any], name: str) -> Any:
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - fields
    if unknown:
        raise ConfigError(f"{name}: unknown keys {sorted(unknown)} (known: {sorted(fields)})")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def task_config(config: dict[str, Any]) -> TaskConfig:
    """The TaskConfig of a run configuration."""
    task = dict(config["task"])
    rewards = _dataclass(RewardWeights, task.pop("rewards", {}), "task.rewards")
    assist = _dataclass(AssistConfig, task.pop("assist", {}), "task.assist")
    return _dataclass(TaskConfig, {**task, "rewards": rewards, "assist": assist, "num_envs": config["sim"]["num_envs"],
                                   "seed": config["seed"]}, "task")


def make_sim(config: dict[str, Any], spec: RobotSpec, backend: str, device: str) -> BatchedSim:
    """The batched simulation: ``cpu`` (MuJoCo C, threads) or ``warp`` (MuJoCo Warp on ``device``)."""
    sim = config["sim"]
    randomization = _dataclass(DomainRandomization, config["randomization"], "randomization")
    collision = sim.get("collision", "full")  # checkpoints written before the option trained on the full model
    if collision not in COLLISION_MODELS:
        raise ConfigError(f"sim.collision must be one of {', '.join(COLLISION_MODELS)}, not {collision!r}")
    common = dict(physics_dt=sim["physics_dt"], decimation=sim["decimation"], randomization=randomization,
                  seed=config["seed"], collision=collision)
    if backend == "cpu":
        return CpuBatchedSim(spec, sim["num_envs"], threads=sim["threads"], **common)
    if backend == "warp":
        from twist_training.tracking.batched_warp import WarpBatchedSim

        return WarpBatchedSim(spec, sim["num_envs"], device=device, **common)
    raise ConfigError(f"backend must be cpu or warp, not {backend!r}")


def make_library(config: dict[str, Any], spec: RobotSpec, device: str) -> MotionLibrary:
    """Reference clips: the listed motions plus ``cmg_clips`` generated by the CMG under random commands."""
    refs = config["references"]
    generated = []
    if refs["cmg_clips"] > 0:
        if not refs["cmg_model"]:
            raise ConfigError("references.cmg_clips > 0 needs references.cmg_model (an exported CMG)")
        sampling = _dataclass(CommandSampling, refs["commands"], "references.commands")
        generated = cmg_clips(spec, CmgRuntime(refs["cmg_model"], spec), refs["cmg_clips"], refs["cmg_seconds"],
                              config["seed"], sampling)
    try:
        clips = clips_from_inputs(refs["motions"])
        sampling = _dataclass(Sampling, refs.get("sampling", {}), "references.sampling")  # older runs: clip
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not clips and not generated:
        raise ConfigError("no reference motions: set references.motions and/or references.cmg_clips")
    return MotionLibrary.from_clips(spec, clips, device, generated, refs["cmg_weight"], sampling)


def make_env(config: dict[str, Any], spec: RobotSpec, backend: str = "cpu", device: str = "cpu") -> TrackingEnv:
    """The tracking environment of a run configuration."""
    sim = make_sim(config, spec, backend, device)
    return TrackingEnv(spec, sim, make_library(config, spec, str(sim.device)), task_config(config))


def model_config(config: dict[str, Any], part: str) -> dict[str, Any]:
    """rsl-rl model configuration of ``actor`` or ``critic``."""
    net = config["network"]
    out = {"class_name": "rsl_rl.models:MLPModel", "hidden_dims": list(net[f"{part}_hidden"]),
           "activation": net["activation"], "obs_normalization": True}
    if part == "actor":
        out["distribution_cfg"] = {"class_name": "rsl_rl.modules:GaussianDistribution", "init_std": net["init_std"]}
    return out


def runner_config(config: dict[str, Any], role: str) -> dict[str, Any]:
    """rsl-rl's train_cfg for ``role``."""
    algorithm = dict(config["algorithm"])
    if role == "teacher":
        algorithm["class_name"] = "rsl_rl.algorithms:PPO"
        groups = {"actor": ["teacher"], "critic": ["teacher", "assist"]}
    else:
        algorithm.update(class_name="twist_training.tracking.distillation:DistilledPPO", **config["distillation"])
        groups = {"actor": ["student"], "critic": ["teacher", "assist"]}
    runner = config["runner"]
    return {"num_steps_per_env": runner["num_steps_per_env"], "save_interval": runner["save_interval"],
            "obs_groups": groups, "algorithm": algorithm, "actor": model_config(config, "actor"),
            "critic": model_config(config, "critic"), "logger": "tensorboard", "check_for_nan": True}


def checkpoints(out: Path) -> list[Path]:
    """``model_<iteration>.pt`` files of a run, oldest first."""
    found = [(int(m.group(1)), p) for p in Path(out).glob("model_*.pt") if (m := CHECKPOINT.search(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run: Path) -> Path:
    """A run's newest checkpoint (``run`` may also be the checkpoint file itself)."""
    run = Path(run)
    if run.is_file():
        return run
    found = checkpoints(run)
    if not found:
        raise ConfigError(f"no model_*.pt in {run}")
    return found[-1]


OPTIMIZER_STATE = "optimizer_state_dict"


def weights_only(source: Path, target: Path) -> dict[str, Any]:
    """Write ``source`` (a tracker checkpoint) to ``target`` without the optimizer state; returns what was written."""
    state = load_checkpoint(source)
    optimizer = state.pop(OPTIMIZER_STATE, None)
    if optimizer is not None:
        state["infos"]["learning_rate"] = float(optimizer["param_groups"][0]["lr"])
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    checkpoint_io.save_atomic(state, target)
    return state


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint with its run configuration (``infos``: role, config)."""
    try:
        state = checkpoint_io.load(path)
    except checkpoint_io.CheckpointError as exc:
        raise ConfigError(str(exc)) from exc
    if not isinstance(state, dict) or not isinstance(state.get("infos"), dict) or "config" not in state["infos"]:
        raise ConfigError(f"{path} is not a tracker checkpoint of train-teacher/train-student")
    return state


def checkpoint_config(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's run configuration completed with today's defaults (keys added since it was written)."""
    return merge(DEFAULTS, state["infos"]["config"])


def actor_from_checkpoint(state: dict[str, Any], obs: Any, num_actions: int, group: str) -> MLPModel:
    """The checkpoint's actor as an MLPModel reading observation group ``group``."""
    config = state["infos"]["config"]
    _, kwargs = _split_class(model_config(config, "actor"))
    actor = MLPModel(obs, {"actor": [group]}, "actor", num_actions, **kwargs)
    actor.load_state_dict(state["actor_state_dict"])
    return actor.eval()


def _split_class(cfg: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    cfg = dict(cfg)
    return cfg.pop("class_name"), cfg


class TrackingRunner(OnPolicyRunner):
    """OnPolicyRunner whose checkpoints carry the run configuration and only the newest ``keep`` stay."""

    def __init__(self, env: TrackingEnv, config: dict[str, Any], role: str, out: Path, device: str) -> None:
        """Build the algorithm for ``role`` and log to ``out``."""
        self.run_config, self.role, self.keep = config, role, int(config["runner"]["keep"])
        self.teacher_state: dict[str, Any] | None = None  # a student's teacher actor, saved with it
        super().__init__(env, runner_config(config, role), str(out), device)
        update = self.alg.update  # every update's losses are checked: a NaN stops the run before it is saved
        self.alg.update = lambda: _finite_losses(update())

    def save(self, path: str, infos: dict | None = None) -> None:
        """Save with the configuration (atomically), then drop older checkpoints."""
        extra = {"teacher": self.teacher_state} if self.teacher_state is not None else {}
        state = {**self.alg.save(), "iter": self.current_learning_iteration,
                 "infos": {**(infos or {}), "role": self.role, "config": self.run_config,
                           "assist_level": self.env.assist.level, **extra}}
        checkpoint_io.save_atomic(state, path)
        self.logger.save_model(path, self.current_learning_iteration)
        for old in checkpoints(Path(path).parent)[:-self.keep]:
            old.unlink()

    def load(self, path: str, load_cfg: dict | None = None, strict: bool = True,
             map_location: str | None = None) -> dict:
        """Load weights, iteration and optimizer state; returns the checkpoint's ``infos``.

        Without an optimizer state (:func:`weights_only`) Adam starts afresh at the checkpoint's learning rate.
        The checkpoint is read on the CPU (``map_location`` is not needed) and copied into the models.
        """
        state = load_checkpoint(Path(path))
        with_optimizer = OPTIMIZER_STATE in state
        load_cfg = load_cfg or {"actor": True, "critic": True, "optimizer": with_optimizer, "iteration": True}
        if self.alg.load(state, load_cfg, strict):
            self.current_learning_iteration = state["iter"]
        if not with_optimizer:
            self.alg.learning_rate = float(state["infos"].get("learning_rate", self.alg.learning_rate))
            for group in self.alg.optimizer.param_groups:
                group["lr"] = self.alg.learning_rate
            print(f"{Path(path).name}: no optimizer state (weights only): Adam restarts at learning rate "
                  f"{self.alg.learning_rate:g}")
        return state["infos"]


def bfloat16_is_fast(device: str) -> bool:
    """Whether bfloat16 matmuls run natively on ``device`` (a CUDA GPU, or a CPU with AVX512-BF16/AMX)."""
    if torch.device(device).type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def supported_precision(config: dict[str, Any], device: str) -> dict[str, Any]:
    """``config`` with ``algorithm.use_mixed_precision`` off where bfloat16 is only emulated (here 8x slower updates).

    The run's saved configuration says what ran; the recipe's ``true`` means "where the hardware has it".
    """
    if not config["algorithm"].get("use_mixed_precision") or bfloat16_is_fast(device):
        return config
    print(f"algorithm.use_mixed_precision: off, {device} has no native bfloat16 (it would be emulated, several "
          "times slower than float32)")
    return {**config, "algorithm": {**config["algorithm"], "use_mixed_precision": False}}


def _finite_losses(losses: dict[str, float]) -> dict[str, float]:
    """The algorithm's update losses, or NonFiniteTraining before anything of this iteration is saved."""
    checkpoint_io.check_finite(losses, "the policy update")
    return losses


def train(role: str, config: dict[str, Any], out: Path, backend: str = "cpu", device: str = "cpu",
          teacher: Path | None = None, restart: bool = False, init_from: Path | None = None,
          min_std: float | None = None) -> TrackingRunner:
    """Train ``role`` to ``config['iterations']`` total iterations in ``out`` (resuming unless ``restart``).

    ``min_std``: raise every action standard deviation below it to it before learning (once, for this call: a
    fine-tune of a converged policy whose stds collapsed explores again).

    ``init_from`` (a run or checkpoint of the same role; a new run only): a new teacher starts its actor and critic
    from it (fine-tuning a trained teacher on other references); a new student starts its actor from it, to
    distill a trained student from a new ``teacher`` (the critic still starts as the teacher's).
    """
    if role not in ROLES:
        raise ConfigError(f"role must be one of {ROLES}")
    if min_std is not None and not min_std > 0:  # before the minutes of building the environment
        raise ConfigError(f"min_std must be > 0, got {min_std}")
    torch.manual_seed(config["seed"])
    torch.set_num_threads(max(1, int(config["sim"]["threads"])))
    config = supported_precision(config, device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    spec = load_robot_spec()
    env = make_env(config, spec, backend, device)
    runner = TrackingRunner(env, config, role, out, device)
    found = None if restart else checkpoint_io.newest_readable(checkpoints(out), load_checkpoint)
    if found is None and not restart and checkpoints(out):
        raise ConfigError(f"no readable checkpoint in {out} (see above); --restart starts over")
    if found:
        infos = runner.load(str(found[0]), map_location=device) or {}
        env.assist.level = float(infos.get("assist_level", env.assist.level))
        runner.current_learning_iteration += 1
        print(f"{role}: resuming from {found[0].name}")
    elif init_from is not None and role == "teacher":
        _init_from(runner, init_from, "teacher", {"actor": True, "critic": True})
    if role == "student":
        if found:
            teacher_state = found[1]["infos"]["teacher"]
        else:
            if teacher is None:
                raise ConfigError("train-student needs --teacher (a teacher run or checkpoint)")
            teacher_state = load_checkpoint(latest_checkpoint(teacher))
            if teacher_state["infos"].get("role") != "teacher":
                raise ConfigError(f"{teacher} is not a teacher checkpoint")
            try:
                runner.alg.critic.load_state_dict(teacher_state["critic_state_dict"])
            except RuntimeError as exc:
                raise ConfigError(f"the student's critic (network.critic_hidden) must be the teacher's: {exc}") from exc
            if init_from is not None:
                _init_from(runner, init_from, "student", {"actor": True})
        runner.teacher_state = {"actor_state_dict": teacher_state["actor_state_dict"],
                                "infos": {"role": "teacher", "config": teacher_state["infos"]["config"]}}
        runner.alg.set_teacher(actor_from_checkpoint(runner.teacher_state, env.get_observations(), env.num_actions,
                                                     "teacher"))
    if min_std is not None:
        raise_action_std(runner.alg.actor, min_std)
    remaining = config["iterations"] - runner.current_learning_iteration
    if remaining > 0:
        runner.learn(remaining)  # no random episode lengths: RSI already starts clips at random frames
    return runner


def _init_from(runner: TrackingRunner, source: Path, role: str, parts: dict[str, bool]) -> None:
    """Load ``parts`` (actor, critic) of a ``role`` checkpoint into a new run's networks."""
    state = load_checkpoint(latest_checkpoint(source))
    if state["infos"].get("role") != role:
        raise ConfigError(f"{source} is not a {role} checkpoint")
    try:
        runner.alg.load(state, parts, strict=True)
    except RuntimeError as exc:
        raise ConfigError(f"{source}: the networks (network.*_hidden) do not match: {exc}") from exc
    print(f"{role}: {' and '.join(k for k, v in parts.items() if v)} from {source}")


def raise_action_std(actor: MLPModel, min_std: float) -> None:
    """Raise the actor's action standard deviations below ``min_std`` to it (the others stay).

    The actor's distribution is :func:`model_config`'s GaussianDistribution with its std as the parameter.
    """
    with torch.no_grad():
        actor.distribution.std_param.clamp_(min=min_std)


def add_reference_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line overrides of ``references`` (``--motions``, ``--cmg-model``, ``--cmg-clips``)."""
    parser.add_argument("--motions", nargs="+", help="motion lists/dirs/files (override references.motions)")
    parser.add_argument("--cmg-model", help="exported CMG for generated references (overrides the config)")
    parser.add_argument("--cmg-clips", type=int, help="number of CMG-generated clips, 0: none (overrides the config)")


def reference_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``references`` entries given by :func:`add_reference_arguments`' options."""
    return {k: v for k, v in (("motions", args.motions), ("cmg_model", args.cmg_model),
                              ("cmg_clips", args.cmg_clips)) if v is not None}


def main(role: str, argv: list[str] | None = None) -> None:
    """Command line of ``train-<role>``."""
    parser = argparse.ArgumentParser(prog=f"train-{role}", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="YAML run configuration (config/tracking/*.yaml)")
    parser.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, TensorBoard)")
    if role == "student":
        parser.add_argument("--teacher", type=Path, help="teacher run directory or checkpoint")
        parser.add_argument("--init-from", type=Path,
                            help="a new run's actor starts from this student run or checkpoint (re-distilling a "
                                 "trained student from a new teacher)")
    else:
        parser.add_argument("--init-from", type=Path,
                            help="a new run's actor and critic start from this teacher run or checkpoint "
                                 "(fine-tuning a trained teacher on other references)")
    parser.add_argument("--iterations", type=int, help="total iterations (overrides the config)")
    parser.add_argument("--num-envs", type=int, help="parallel environments (overrides the config)")
    add_reference_arguments(parser)
    parser.add_argument("--threads", type=int, help="simulation and torch CPU threads (overrides sim.threads)")
    parser.add_argument("--backend", choices=("cpu", "warp"), default="cpu", help="batched simulation backend")
    parser.add_argument("--device", default="cpu", help="torch/warp device: cpu, cuda:0")
    parser.add_argument("--restart", action="store_true", help="ignore existing checkpoints in --out")
    parser.add_argument("--min-std", type=float,
                        help="raise action stds below this to it before learning (once: re-exploration when "
                             "fine-tuning a converged policy; give it only on the run's first resume)")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.iterations is not None:
        overrides["iterations"] = args.iterations
    sim = {k: v for k, v in (("num_envs", args.num_envs), ("threads", args.threads)) if v is not None}
    overrides.update({k: v for k, v in (("sim", sim), ("references", reference_overrides(args))) if v})
    try:
        config = load_config(args.config, overrides)
        train(role, config, args.out, args.backend, args.device, getattr(args, "teacher", None), args.restart,
              getattr(args, "init_from", None), args.min_std)
    except (ConfigError, MotionError) as exc:
        print(f"train-{role}: {exc}", file=sys.stderr)
        sys.exit(2)
    except checkpoint_io.NonFiniteTraining as exc:
        kept = checkpoint_io.newest_readable(checkpoints(args.out), load_checkpoint, quiet=True)
        print(f"train-{role}: stopped: {exc}; nothing of this iteration was saved"
              + (f", {kept[0]} is the last good checkpoint" if kept else ""), file=sys.stderr)
        sys.exit(3)


def main_teacher(argv: list[str] | None = None) -> None:
    """Command line: ``train-teacher``."""
    main("teacher", argv)


def main_student(argv: list[str] | None = None) -> None:
    """Command line: ``train-student``."""
    main("student", argv)
