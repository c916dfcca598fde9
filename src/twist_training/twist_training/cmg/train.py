"""cmg-train: train the Conditional Motion Generator on prepared windows (``cmg-prepare``).

    cmg-train --data data/cmg_data.npz --out runs/cmg --epochs 40 --device cpu

Each batch rolls the model out autoregressively over the window (30 steps), averaging the MSE to the ground truth in
normalized units. Scheduled sampling: at every step and for every sample independently, the next input is the
ground-truth frame with probability ``teacher`` and the model's own prediction otherwise; ``teacher`` decays
linearly from ``--teacher-start`` to ``--teacher-end`` over the first ``--teacher-decay`` fraction of the epochs, so
the last part trains fully free-running. ``--limit-weight`` adds a penalty on predicted joint positions beyond the
robot's limits less ``--limit-margin`` (squared excess in normalized units; the data respect the limits, a model
fitted by MSE alone overshoots where they sit at a limit). Gradients flow through the rollout (``--detach-rollout``
cuts them, as the original did). The learning rate follows a warm-up then a cosine schedule that does not look at
the loss (the original's plateau scheduler, stepped on a loss that rises as teacher forcing decays, collapsed to
1e-6 early). Windows are drawn with speed-balanced weights and extra weight on starts from standing (``cmg_data``).

Every epoch: validation on held-out clips (teacher-forced one-step MSE and free-running rollout MSE), TensorBoard
scalars under ``OUT/tb``, ``OUT/latest.pt`` (resumed automatically when present, unless ``--restart``; a corrupt one
is skipped for the newest readable of ``latest.pt``/``best.pt``) and ``OUT/best.pt`` (lowest free-running
validation MSE), both written atomically (``twist_training.checkpoint_io``). ``cmg-export`` turns a checkpoint into
ONNX. Data holding NaN/Inf are refused before training (exit 2); a non-finite loss stops the run at once, before
the optimizer step, with exit 3 and the last good checkpoint left as it was.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from twist_core.motion import MotionError
from twist_core.robot import RobotSpec, load_robot_spec
from twist_training import checkpoint_io
from twist_training.cmg.data import CmgData, CmgStats, load_data, sample_weights
from twist_training.cmg.model import CmgConfig, CmgNet

OPTIMIZER_STATE = "optimizer"  # the checkpoint key a weights-only copy drops


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (saved in every checkpoint)."""

    epochs: int = 40
    windows_per_epoch: int = 32768
    batch: int = 256
    lr: float = 3e-4
    lr_min_ratio: float = 0.05
    warmup_epochs: float = 1.0
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    teacher_start: float = 1.0
    teacher_end: float = 0.0
    teacher_decay: float = 0.6
    detach_rollout: bool = False
    standing_start_weight: float = 2.0
    input_noise: float = 0.0
    limit_weight: float = 0.0
    limit_margin: float = 0.01
    validation_windows: int = 2048
    seed: int = 0
    model: CmgConfig = dataclasses.field(default_factory=CmgConfig)


def teacher_probability(config: TrainConfig, progress: float) -> float:
    """Teacher-forcing probability at ``progress`` (epochs done, fractional)."""
    horizon = max(config.teacher_decay * config.epochs, 1e-9)
    x = min(progress / horizon, 1.0)
    return config.teacher_start + (config.teacher_end - config.teacher_start) * x


def learning_rate(config: TrainConfig, progress: float) -> float:
    """Linear warm-up, then cosine from ``lr`` to ``lr * lr_min_ratio`` at the last epoch."""
    if progress < config.warmup_epochs:
        return config.lr * max(progress / config.warmup_epochs, 0.01)
    span = max(config.epochs - config.warmup_epochs, 1e-9)
    x = min((progress - config.warmup_epochs) / span, 1.0)
    low = config.lr * config.lr_min_ratio
    return low + 0.5 * (config.lr - low) * (1.0 + math.cos(math.pi * x))


def limit_penalty(prediction: torch.Tensor, limits: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Mean over the batch of the summed squared excess of the predicted joint positions beyond ``limits``.

    ``limits``: (lower, upper) joint positions in the prediction's (normalized) units, one per joint.
    """
    lower, upper = limits
    position = prediction[:, :len(lower)]
    excess = torch.relu(position - upper) + torch.relu(lower - position)
    return torch.mean(torch.sum(excess ** 2, dim=1))


def rollout_loss(net: CmgNet, motion: torch.Tensor, command: torch.Tensor, teacher: float,
                 detach: bool = False, generator: torch.Generator | None = None,
                 input_noise: float = 0.0, limits: tuple[torch.Tensor, torch.Tensor] | None = None,
                 limit_weight: float = 0.0) -> torch.Tensor:
    """Mean MSE of an autoregressive rollout (normalized units); per-sample, per-step scheduled sampling.

    ``input_noise`` adds Gaussian noise of that std to every input state (targets stay clean), so the model learns
    to steer back to the data, e.g. to the standing pose under a zero command. With ``limits`` and
    ``limit_weight`` > 0, every step also adds ``limit_weight`` x :func:`limit_penalty`.
    """
    x = motion[:, 0]
    total = motion.new_zeros(())
    steps = command.shape[1]
    for t in range(steps):
        if input_noise > 0:
            x = x + input_noise * torch.randn(x.shape, generator=generator, device=x.device)
        prediction = net(x, command[:, t])
        total = total + torch.mean((prediction - motion[:, t + 1]) ** 2)
        if limits is not None and limit_weight > 0:
            total = total + limit_weight * limit_penalty(prediction, limits)
        if t + 1 < steps:
            fed = prediction.detach() if detach else prediction
            if teacher >= 1.0:
                x = motion[:, t + 1]
            elif teacher <= 0.0:
                x = fed
            else:
                use_truth = torch.rand(len(x), 1, generator=generator, device=x.device) < teacher
                x = torch.where(use_truth, motion[:, t + 1], fed)
    return total / steps


def weights_only(state: dict[str, Any]) -> dict[str, Any]:
    """A cmg-train checkpoint's ``state`` without AdamW's state.

    Saved, it exports, fine-tunes (``--init-from``) and resumes like the original, AdamW's moments restarting.
    """
    state.pop(OPTIMIZER_STATE, None)
    return state


class Trainer:
    """State of one training run: model, optimizer, data, progress; checkpoints and resumes."""

    def __init__(self, data: CmgData, config: TrainConfig, out: Path, device: str = "cpu",
                 spec: RobotSpec | None = None) -> None:
        """Set up a fresh run (see :meth:`resume`); ``spec`` (default config/g1.yaml) gives the joint limits.

        Raises :class:`~twist_training.checkpoint_io.NonFiniteTraining` when the data hold NaN/Inf.
        """
        for name, values in (("motion", data.motion), ("command", data.command)):
            bad = ~np.isfinite(values)
            if bad.any():
                windows = np.flatnonzero(bad.reshape(len(values), -1).any(axis=1))
                raise checkpoint_io.NonFiniteTraining(
                    f"the prepared data's {name} holds {int(bad.sum())} NaN/Inf value(s) in {len(windows)} window(s) "
                    f"(first: window {windows[0]}); prepare the data again (cmg-prepare)")
        self.data, self.config, self.out, self.device = data, config, Path(out), torch.device(device)
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.net = CmgNet(config.model).to(self.device)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.epoch = 0
        self.best = math.inf
        self.history: list[dict[str, float]] = []
        stats = data.stats
        self.train_idx = data.split(False)
        self.val_idx = data.split(True)
        self.weights = sample_weights(data, self.train_idx, config.standing_start_weight)
        self.motion_n = torch.as_tensor(stats.normalize_motion(data.motion), dtype=torch.float32)
        self.command_n = torch.as_tensor(stats.normalize_command(data.command), dtype=torch.float32)
        spec = spec or load_robot_spec()
        n = spec.num_joints
        self.limits = tuple(torch.as_tensor((bound - stats.motion_mean[:n]) / stats.motion_std[:n], dtype=torch.float32,
                                            device=self.device)
                            for bound in (spec.lower_limits + config.limit_margin,
                                          spec.upper_limits - config.limit_margin))

    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to resume or export."""
        return {"net": self.net.state_dict(), OPTIMIZER_STATE: self.optimizer.state_dict(), "epoch": self.epoch,
                "best": self.best, "history": self.history, "config": dataclasses.asdict(self.config),
                "stats": {k: np.asarray(v).tolist() for k, v in dataclasses.asdict(self.data.stats).items()},
                "standing_frame": self.data.standing_frame.tolist(), "data_summary": self.data.summary,
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state()}

    def init_from(self, path: Path) -> None:
        """Start this (new) run from another run's network weights (fine-tuning with a new schedule)."""
        state = checkpoint_io.load(path, self.device)
        if state["config"]["model"] != dataclasses.asdict(self.config.model):
            raise ValueError(f"{path}: model {state['config']['model']} differs from {self.config.model}")
        self.net.load_state_dict(state["net"])

    def resume(self, path: Path, state: dict[str, Any] | None = None) -> None:
        """Continue from a checkpoint written by this trainer (``state``: its content, when already loaded)."""
        state = checkpoint_io.load(path, self.device) if state is None else state
        if state["config"]["model"] != dataclasses.asdict(self.config.model):
            raise ValueError(f"{path}: model {state['config']['model']} differs from {self.config.model}")
        self.net.load_state_dict(state["net"])
        if OPTIMIZER_STATE in state:
            self.optimizer.load_state_dict(state[OPTIMIZER_STATE])
        else:
            print(f"{path}: a weights-only checkpoint: AdamW's moments restart", file=sys.stderr)
        self.epoch, self.best, self.history = state["epoch"], state["best"], state["history"]
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])

    def _save(self, name: str) -> None:
        checkpoint_io.save_atomic(self.checkpoint(), self.out / name)

    def validate(self) -> dict[str, float]:
        """Teacher-forced one-step and free-running rollout MSE on held-out clips (normalized units)."""
        if len(self.val_idx) == 0:
            return {}
        idx = self.val_idx
        if len(idx) > self.config.validation_windows:
            idx = np.random.default_rng(1).choice(idx, self.config.validation_windows, replace=False)
        motion = self.motion_n[idx].to(self.device)
        command = self.command_n[idx].to(self.device)
        self.net.eval()
        with torch.no_grad():
            one_step = torch.mean((self.net(motion[:, :-1].reshape(-1, motion.shape[-1]),
                                            command.reshape(-1, 3))
                                   - motion[:, 1:].reshape(-1, motion.shape[-1])) ** 2).item()
            free = rollout_loss(self.net, motion, command, teacher=0.0).item()
        self.net.train()
        return {"val/one_step_mse": one_step, "val/free_run_mse": free}

    def train_epoch(self, progress_bar: bool = True) -> dict[str, float]:
        """One epoch of ``windows_per_epoch`` weighted draws; returns the epoch's scalars."""
        c = self.config
        batches = max(1, c.windows_per_epoch // c.batch)
        draws = self.rng.choice(self.train_idx, size=(batches, c.batch), p=self.weights)
        losses, grad_norms = [], []
        generator = torch.Generator().manual_seed(int(self.rng.integers(2 ** 31)))
        bar = tqdm(range(batches), desc=f"epoch {self.epoch + 1}/{c.epochs}", unit="batch", leave=False,
                   disable=not progress_bar)
        for b in bar:
            progress = self.epoch + b / batches
            teacher = teacher_probability(c, progress)
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate(c, progress)
            motion = self.motion_n[draws[b]].to(self.device)
            command = self.command_n[draws[b]].to(self.device)
            loss = rollout_loss(self.net, motion, command, teacher, c.detach_rollout, generator, c.input_noise,
                                self.limits, c.limit_weight)
            checkpoint_io.check_finite({"loss": loss}, f"epoch {self.epoch + 1}, batch {b + 1}")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norms.append(float(torch.nn.utils.clip_grad_norm_(self.net.parameters(), c.grad_clip)))
            self.optimizer.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.4f}", teacher=f"{teacher:.2f}")
        self.epoch += 1
        return {"train/rollout_mse": float(np.mean(losses)), "train/grad_norm": float(np.mean(grad_norms)),
                "train/teacher_probability": teacher_probability(c, self.epoch - 1e-9),
                "train/lr": self.optimizer.param_groups[0]["lr"]}

    def run(self, progress_bar: bool = True, stop_after: int | None = None) -> None:
        """Train until ``epochs`` (or epoch ``stop_after``), validating, logging and checkpointing every epoch."""
        from torch.utils.tensorboard import SummaryWriter

        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(self.config), indent=2))
        writer = SummaryWriter(str(self.out / "tb"))
        try:
            last = self.config.epochs if stop_after is None else min(stop_after, self.config.epochs)
            while self.epoch < last:
                start = time.monotonic()
                scalars = self.train_epoch(progress_bar)
                scalars.update(self.validate())
                scalars["time/epoch_s"] = time.monotonic() - start
                for key, value in scalars.items():
                    writer.add_scalar(key, value, self.epoch)
                writer.flush()
                self.history.append({"epoch": self.epoch, **scalars})
                free = scalars.get("val/free_run_mse", scalars["train/rollout_mse"])
                improved = free < self.best
                if improved:
                    self.best = free
                self._save("latest.pt")
                if improved:
                    self._save("best.pt")
                print(f"epoch {self.epoch}/{self.config.epochs}: train {scalars['train/rollout_mse']:.4f} "
                      f"(teacher {scalars['train/teacher_probability']:.2f}, lr {scalars['train/lr']:.2e}), "
                      f"val free-run {free:.4f}{' *' if improved else ''}, {scalars['time/epoch_s']:.0f} s",
                      flush=True)
        finally:
            writer.close()


def stats_from_checkpoint(state: dict[str, Any]) -> CmgStats:
    """The normalization statistics stored in a checkpoint."""
    keys = ("motion_mean", "motion_std", "command_min", "command_max")
    return CmgStats(*(np.asarray(state["stats"][k]) for k in keys))


def net_from_checkpoint(state: dict[str, Any]) -> CmgNet:
    """The network of a checkpoint, in eval mode on the CPU."""
    net = CmgNet(CmgConfig(**state["config"]["model"]))
    net.load_state_dict(state["net"])
    return net.eval()


def main(argv: list[str] | None = None) -> None:
    """Command line: ``cmg-train``."""
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="cmg-train", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="prepared data (cmg-prepare)")
    parser.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, tb/)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--restart", action="store_true", help="ignore OUT/latest.pt and start from scratch")
    parser.add_argument("--init-from", type=Path, help="start a new run from this checkpoint's weights (fine-tune)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    for field in dataclasses.fields(TrainConfig):
        if field.name == "model":
            continue
        value = getattr(defaults, field.name)
        flag = "--" + field.name.replace("_", "-")
        if isinstance(value, bool):
            parser.add_argument(flag, action="store_true", help=f"(default {value})")
        else:
            parser.add_argument(flag, type=type(value), default=value, help=f"(default {value})")
    for field in dataclasses.fields(CmgConfig):
        if field.name in ("motion_dim", "command_dim"):
            continue
        value = getattr(defaults.model, field.name)
        parser.add_argument("--" + field.name.replace("_", "-"), type=int, default=value,
                            help=f"network: {field.name} (default {value})")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda but torch sees no CUDA device")
    try:
        data = load_data(args.data)
    except (MotionError, OSError) as exc:
        print(f"cmg-train: {exc}", file=sys.stderr)
        sys.exit(2)
    model = CmgConfig(motion_dim=data.motion.shape[-1], command_dim=3,
                      **{f.name: getattr(args, f.name) for f in dataclasses.fields(CmgConfig)
                         if f.name not in ("motion_dim", "command_dim")})
    config = TrainConfig(model=model, **{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
                                         if f.name != "model"})
    try:
        trainer = Trainer(data, config, args.out, args.device)
    except checkpoint_io.NonFiniteTraining as exc:
        print(f"cmg-train: {exc}", file=sys.stderr)
        sys.exit(2)
    saved = sorted((p for p in (args.out / "latest.pt", args.out / "best.pt") if p.exists()),
                   key=lambda p: p.stat().st_mtime)
    found = None if args.restart else checkpoint_io.newest_readable(saved)
    if found is not None:
        trainer.resume(*found)
        print(f"resuming {found[0]} after epoch {trainer.epoch}")
    elif saved and not args.restart:
        print(f"cmg-train: no readable checkpoint in {args.out} (see above); --restart starts over", file=sys.stderr)
        sys.exit(2)
    elif args.init_from is not None:
        trainer.init_from(args.init_from)
        print(f"starting from the weights of {args.init_from}")
    print(f"{len(trainer.train_idx)} training / {len(trainer.val_idx)} validation windows; "
          f"{sum(p.numel() for p in trainer.net.parameters()):,} parameters; device {args.device}")
    try:
        trainer.run(progress_bar=not args.no_progress)
    except KeyboardInterrupt:
        print(f"interrupted after epoch {trainer.epoch}; run the same command again to resume", file=sys.stderr)
        sys.exit(130)
    except checkpoint_io.NonFiniteTraining as exc:
        kept = args.out / "latest.pt"
        print(f"cmg-train: stopped: {exc}; nothing of this epoch was saved"
              + (f", {kept} (epoch {trainer.epoch}) is the last good checkpoint" if kept.exists() else ""),
              file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    main()
