"""train-teacher / train-student: the TWIST tracker on batched MuJoCo with rsl-rl (PPO; PPO + KL to the teacher).

    train-teacher --config config/tracking/teacher.yaml --out runs/teacher
    train-student --config config/tracking/student.yaml --teacher runs/teacher --out runs/student

The run configuration is a YAML recipe (``--config``; every key and its default: ``tracking/config.py``) with the
options below laid over it. A run directory holds TensorBoard scalars, ``model_<iteration>.pt`` checkpoints (the
newest ``runner.keep`` are kept; each carries the complete configuration, so export and evaluation need nothing
else: ``tracking/checkpoints.py``) and that configuration as ``config.yaml``. Starting again with the same
``--out`` resumes from its newest checkpoint (``--restart`` starts over) with the adaptive sampling's state
(clip difficulties, segment failures) where the references are the same; ``--iterations`` is the total. The
teacher's actor and critic read the ``teacher`` observation (future reference frames + current frame + privileged
state); the student's actor reads ``student`` (exactly what the policy node builds), its critic ``teacher``,
initialized from the teacher's critic; the teacher's actor is saved in the student's checkpoints, so a student
run resumes without the teacher run. Resuming from a weights-only checkpoint restarts Adam's moments at the saved
learning rate; resuming skips a checkpoint that does not read for the newest one that does. A configuration that
cannot be used exits 2 with a message; a non-finite loss stops the run at once (exit 3), its weights unsaved.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
from pathlib import Path
from typing import Any

import torch
import yaml
from rsl_rl.models import MLPModel
from rsl_rl.runners import OnPolicyRunner

from twist_core.motion import MotionError
from twist_core.robot import load_robot_spec
from twist_training import checkpoint_io
from twist_training.tracking.checkpoints import (OPTIMIZER_STATE, actor_from_checkpoint, checkpoints,
                                                 latest_checkpoint, load_checkpoint)
from twist_training.tracking.config import (ConfigError, RunConfig, dotted_overrides, load_config, merge,
                                            runner_config)
from twist_training.tracking.factories import BACKENDS, make_env
from twist_training.tracking.imitation import ImitationRound, imitate_reference
from twist_training.tracking.normalization import refit_normalizer
from twist_training.tracking.task import TrackingEnv

ROLES = ("teacher", "student")


class TrackingRunner(OnPolicyRunner):
    """OnPolicyRunner whose checkpoints carry the run configuration and only the newest ``keep`` stay."""

    def __init__(self, env: TrackingEnv, config: RunConfig, role: str, out: Path, device: str) -> None:
        """Build the algorithm for ``role`` and log to ``out``."""
        self.run_config, self.role, self.keep = config, role, config.runner.keep
        self.teacher_state: dict[str, Any] | None = None  # a student's teacher actor, saved with it
        super().__init__(env, runner_config(config, role), str(out), device)
        update = self.alg.update  # every update's losses are checked: a NaN stops the run before it is saved
        self.alg.update = lambda: _finite_losses(update())

    def save(self, path: str, infos: dict | None = None) -> None:
        """Save with the configuration (atomically), then drop older checkpoints."""
        extra = {"teacher": self.teacher_state} if self.teacher_state is not None else {}
        state = {**self.alg.save(), "iter": self.current_learning_iteration,
                 "infos": {**(infos or {}), "role": self.role, "config": self.run_config.to_dict(),
                           "assist_level": self.env.assist.level, "sampler": self.env.library.sampler_state(),
                           **extra}}
        checkpoint_io.save_atomic(state, path)
        self.logger.save_model(path, self.current_learning_iteration)
        for old in checkpoints(Path(path).parent)[:-self.keep]:
            old.unlink()

    def load(self, path: str, load_cfg: dict | None = None, strict: bool = True,
             map_location: str | None = None) -> dict:
        """Load weights, iteration and optimizer state; returns the checkpoint's ``infos``.

        Without an optimizer state (``checkpoints.weights_only``) Adam starts afresh at the checkpoint's learning rate.
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


def supported_precision(config: RunConfig, device: str) -> RunConfig:
    """``config`` with ``algorithm.use_mixed_precision`` off where bfloat16 is only emulated (here 8x slower updates).

    The run's saved configuration says what ran; the recipe's ``true`` means "where the hardware has it".
    """
    if not config.algorithm.use_mixed_precision or bfloat16_is_fast(device):
        return config
    print(f"algorithm.use_mixed_precision: off, {device} has no native bfloat16 (it would be emulated, several "
          "times slower than float32)")
    return dataclasses.replace(config, algorithm=dataclasses.replace(config.algorithm, use_mixed_precision=False))


def _finite_losses(losses: dict[str, float]) -> dict[str, float]:
    """The algorithm's update losses, or NonFiniteTraining before anything of this iteration is saved."""
    checkpoint_io.check_finite(losses, "the policy update")
    return losses


def train(role: str, config: RunConfig, out: Path, backend: str = "cpu", device: str = "cpu",
          teacher: Path | None = None, restart: bool = False, init_from: Path | None = None,
          min_std: float | None = None, refit: bool = False, imitate_rounds: int = 0) -> TrackingRunner:
    """Train ``role`` to ``config.iterations`` total iterations in ``out`` (resuming unless ``restart``).

    ``min_std``: raise every action standard deviation below it to it before learning (once, for this call: a
    fine-tune of a converged policy whose stds collapsed explores again).

    ``init_from`` (a run or checkpoint of the same role; a new run only): a new teacher starts its actor and critic
    from it (fine-tuning a trained teacher on other references); a new student starts its actor from it, to
    distill a trained student from a new ``teacher`` (the critic still starts as the teacher's). ``refit`` (with
    ``init_from``): the loaded networks' observation normalizers are then refit to this run's references, their
    outputs unchanged but for inputs that were about constant before (``tracking/normalization.py``).
    ``imitate_rounds`` > 0 (a new teacher with ``init_from``): then that many rounds of the supervised warm start
    of ``tracking/imitation.py`` put the upper body's actions onto the reference, the rest kept as loaded.
    """
    if (refit or imitate_rounds) and init_from is None:
        raise ConfigError("refitting the observation normalizers (--refit-normalizer) or the upper body's warm start "
                          "(--imitate-upper-body) needs --init-from")
    if imitate_rounds < 0 or (imitate_rounds and role != "teacher"):
        raise ConfigError(f"the upper body's warm start is for a new teacher, with rounds >= 0; got {imitate_rounds}")
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if min_std is not None and not min_std > 0:  # before the minutes of building the environment
        raise ConfigError(f"min_std must be > 0, got {min_std}")
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.sim.threads)
    config = supported_precision(config, device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    spec = load_robot_spec()
    env = make_env(config, spec, backend, device)
    runner = TrackingRunner(env, config, role, out, device)
    found = None if restart else checkpoint_io.newest_readable(checkpoints(out), load_checkpoint)
    if found is None and not restart and checkpoints(out):
        raise ConfigError(f"no readable checkpoint in {out} (see above); --restart starts over")
    if found:
        infos = runner.load(str(found[0]), map_location=device) or {}
        env.assist.level = float(infos.get("assist_level", env.assist.level))
        if not env.library.load_sampler_state(infos.get("sampler")):
            print(f"{found[0].name}: no sampling state of these references: adaptive sampling starts afresh")
        runner.current_learning_iteration += 1
        print(f"{role}: resuming from {found[0].name}")
    elif init_from is not None and role == "teacher":
        _init_from(runner, init_from, "teacher", {"actor": True, "critic": True})
        anchor = copy.deepcopy(runner.alg.actor) if imitate_rounds else None  # before the refit
        if refit:
            _refit_normalizers(runner, {"actor": runner.alg.actor, "critic": runner.alg.critic})
        if anchor is not None:
            _imitate_upper_body(runner, anchor, imitate_rounds)
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
                if refit:
                    _refit_normalizers(runner, {"actor": runner.alg.actor})
        runner.teacher_state = {"actor_state_dict": teacher_state["actor_state_dict"],
                                "infos": {"role": "teacher", "config": teacher_state["infos"]["config"]}}
        runner.alg.set_teacher(actor_from_checkpoint(runner.teacher_state, env.get_observations(), env.num_actions,
                                                     "teacher"))
    if min_std is not None:
        raise_action_std(runner.alg.actor, min_std)
    remaining = config.iterations - runner.current_learning_iteration
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


def _refit_normalizers(runner: TrackingRunner, models: dict[str, MLPModel]) -> None:
    """Refit the loaded ``models``' normalizers to this run's references (``tracking/normalization.py``).

    The sample: one rollout (``num_steps_per_env`` control steps of every environment) under the loaded
    actor's mean action.
    """
    env, actor = runner.env, runner.alg.actor
    obs = env.get_observations()
    samples: dict[str, list[torch.Tensor]] = {name: [] for name in models}
    with torch.inference_mode():
        for _ in range(runner.cfg["num_steps_per_env"]):
            for name, model in models.items():
                samples[name].append(torch.cat([obs[group] for group in model.obs_groups], dim=-1))
            obs = env.step(actor(obs, stochastic_output=False))[0]
    for name, model in models.items():
        refit = refit_normalizer(model, torch.cat(samples[name]))
        print(f"{runner.role}'s {name}: observation normalizer refit on {refit.samples} samples of these references"
              f" ({refit.rescaled} of {refit.inputs} inputs rescaled, {len(refit.zeroed)} about constant before:"
              f" zero weights; largest spread growth x{refit.largest_growth:.0f})")


def _imitate_upper_body(runner: TrackingRunner, anchor: MLPModel, rounds: int) -> None:
    """The supervised warm start (``tracking/imitation.py``) on ``config/g1.yaml``'s upper-body joints."""
    env = runner.env

    def report(index: int, result: ImitationRound) -> None:
        print(f"upper-body warm start {index + 1}/{rounds}: {result.samples} samples, mean squared action error "
              f"{result.loss_before:.4f} -> {result.loss_after:.4f} (upper body {result.joints_loss_before:.4f} -> "
              f"{result.joints_loss_after:.4f})", flush=True)

    imitate_reference(env, runner.alg.actor, env.upper_idx, rounds, steps=runner.cfg["num_steps_per_env"],
                      anchor=anchor, report=report)


def raise_action_std(actor: MLPModel, min_std: float) -> None:
    """Raise the actor's action standard deviations below ``min_std`` to it (the others stay).

    The actor's distribution is ``config.model_config``'s GaussianDistribution with its std as the parameter.
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
        parser.add_argument("--imitate-upper-body", type=int, default=0, metavar="ROUNDS",
                            help="with --init-from: before PPO, ROUNDS rounds of supervised learning putting the "
                                 "upper body's actions onto the reference, the rest kept (tracking/imitation.py)")
    parser.add_argument("--refit-normalizer", action="store_true",
                        help="with --init-from: refit the loaded networks' observation normalizers to these references "
                             "(what they compute kept; inputs about constant before start ignored)")
    parser.add_argument("--iterations", type=int, help="total iterations (overrides the config)")
    parser.add_argument("--num-envs", type=int, help="parallel environments (overrides the config)")
    add_reference_arguments(parser)
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="configuration overrides, a dotted key and a YAML value: algorithm.learning_rate=1.0e-3")
    parser.add_argument("--threads", type=int, help="simulation and torch CPU threads (overrides sim.threads)")
    parser.add_argument("--backend", choices=BACKENDS, default="cpu", help="batched simulation backend")
    parser.add_argument("--device", default="cpu", help="torch/warp device: cpu, cuda:0")
    parser.add_argument("--restart", action="store_true", help="ignore existing checkpoints in --out")
    parser.add_argument("--min-std", type=float,
                        help="raise action stds below this to it before learning (once: re-exploration when "
                             "fine-tuning a converged policy; give it only on the run's first resume)")
    args = parser.parse_args(argv)
    options: dict[str, Any] = {}
    if args.iterations is not None:
        options["iterations"] = args.iterations
    sim = {k: v for k, v in (("num_envs", args.num_envs), ("threads", args.threads)) if v is not None}
    options.update({k: v for k, v in (("sim", sim), ("references", reference_overrides(args))) if v})
    try:
        config = load_config(args.config, merge(dotted_overrides(args.set), options))
        train(role, config, args.out, args.backend, args.device, getattr(args, "teacher", None), args.restart,
              getattr(args, "init_from", None), args.min_std, args.refit_normalizer,
              getattr(args, "imitate_upper_body", 0))
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
