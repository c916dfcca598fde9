#!/usr/bin/env python3
"""Benchmark tracker training throughput: raw batched physics, the tracking task, and whole PPO iterations.

One row per (collision model, setting, number of environments), all measured in one run so that the ratios hold
on a shared, noisy machine:

- physics: control steps/s of the batched simulation alone (4 MuJoCo substeps per control step, fixed targets);
- task: env-steps/s of ``TrackingEnv.step`` (physics + rewards, terminations, resets, observations);
- task+policy: the same with the teacher actor (config network) sampling each step's actions in torch;
- PPO: env-steps/s of whole rsl-rl iterations (rollouts + learning epochs);
- where the time of those PPO iterations went, in per cent: physics, task terms (rewards and terminations),
  observations, resets, policy (actor and critic during the rollout), learning (returns and the PPO update),
  other (storage, bookkeeping);
- RSS: the process' peak resident memory after the row [MiB].

    python scripts/bench_tracking.py                         # 64, 256, 1024 envs, MuJoCo C on 2 threads
    python scripts/bench_tracking.py --envs 1024 --collision full capsules       # the training collision model
    python scripts/bench_tracking.py --envs 1024 --setting default \\
        "algorithm.num_learning_epochs=2" "network.actor_hidden=[256,256,128];network.critic_hidden=[256,256,128]"
    python scripts/bench_tracking.py --envs 4096 --backend warp --device cuda:0
    (after `source scripts/env.sh`; clips: synthetic walking clips unless --motions)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch

from twist_core.motion import save_motion
from twist_core.robot import load_robot_spec
from twist_core.toy_models import walking_clip
from twist_training.tracking.config import ConfigError, dotted_overrides, load_config, merge
from twist_training.tracking.factories import BACKENDS, make_env
from twist_training.tracking.sim_model import COLLISION_MODELS
from twist_training.tracking.train import TrackingRunner

PARTS = ("physics", "task terms", "observations", "resets", "policy", "learning")


def _rate(step: Callable[[], None], n: int, envs: int) -> float:
    step()  # warm-up (first-call allocations, Warp graph capture)
    start = time.perf_counter()
    for _ in range(n):
        step()
    return n * envs / (time.perf_counter() - start)


class Timers:
    """Wall time spent in methods of instances (wrapped per instance; the benchmark's own objects only)."""

    def __init__(self, sync: Callable[[], None]) -> None:
        """``sync`` waits for queued device work (CUDA), so a part's time is its own."""
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.sync = sync
        self._depth = 0

    def wrap(self, obj: Any, method: str, part: str) -> None:
        """Count the time of ``obj.method`` (not nested in another timed call) to ``part``."""
        inner = getattr(obj, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return inner(*args, **kwargs)
            self._depth += 1
            self.sync()
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.sync()
                self.seconds[part] += time.perf_counter() - start
                self._depth -= 1

        setattr(obj, method, timed)


def setting(text: str) -> dict[str, Any]:
    """'a.b=value;c=value' (values in YAML) -> a nested configuration override (checked); 'default' -> {}."""
    try:
        override = {} if text == "default" else dotted_overrides(text.split(";"))
        load_config(None, override)
        return override
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def bench(envs: int, args: argparse.Namespace, motions: list[str], collision: str, override: dict) -> dict:
    """One row of the table."""
    config = load_config(None, merge({"sim": {"num_envs": envs, "threads": args.threads, "collision": collision},
                                      "references": {"motions": motions}}, override))
    spec = load_robot_spec()
    env = make_env(config, spec, args.backend, args.device)
    targets = torch.tensor(spec.default_pose, dtype=torch.float32).repeat(envs, 1).to(env.device)
    row = {"physics": _rate(lambda: env.sim.step(targets), args.steps, envs)}
    row["task"] = _rate(lambda: env.step(torch.zeros(envs, env.num_actions, device=env.device)), args.steps, envs)
    sync = torch.cuda.synchronize if env.device.type == "cuda" else (lambda: None)
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):  # rsl-rl's prints
        runner = TrackingRunner(env, config, "teacher", Path(out), args.device)
        policy = runner.alg.actor

        def act() -> None:
            with torch.inference_mode():
                env.step(policy(env.get_observations(), stochastic_output=True))

        row["task+policy"] = _rate(act, args.steps, envs)
        runner.logger.disable_logs = True
        timers = Timers(sync)
        for obj, method, part in ((env.sim, "step", "physics"), (env, "_rewards", "task terms"),
                                  (env, "_terminated", "task terms"), (env, "_observations", "observations"),
                                  (env, "_reset", "resets"), (runner.alg, "act", "policy"),
                                  (runner.alg, "compute_returns", "learning"), (runner.alg, "update", "learning")):
            timers.wrap(obj, method, part)
        sync()
        start = time.perf_counter()
        runner.learn(args.iterations)
        sync()
        elapsed = time.perf_counter() - start
    row["ppo"] = args.iterations * config.runner.num_steps_per_env * envs / elapsed
    row["split"] = {part: 100.0 * timers.seconds[part] / elapsed for part in PARTS}
    row["split"]["other"] = 100.0 - sum(row["split"].values())
    row["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    env.sim.close()
    return row


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", type=int, nargs="+", default=[64, 256, 1024], help="environment counts")
    parser.add_argument("--backend", choices=BACKENDS, default="cpu")
    parser.add_argument("--device", default="cpu", help="cpu or cuda:N (warp)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (simulation and torch)")
    parser.add_argument("--steps", type=int, default=50, help="control steps per measurement")
    parser.add_argument("--iterations", type=int, default=2, help="PPO iterations per row")
    parser.add_argument("--collision", nargs="+", default=["full"], choices=COLLISION_MODELS,
                        help="training collision models to compare (tracking/sim_model.py)")
    parser.add_argument("--setting", nargs="+", type=setting, default=[{}], metavar="KEY=VALUE[;KEY=VALUE]",
                        help="configuration overrides to compare (YAML values; 'default' for none), e.g. "
                             "algorithm.num_learning_epochs=2")
    parser.add_argument("--motions", nargs="+", help="reference motions (default: synthetic clips)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as clips:
        motions = args.motions
        if not motions:
            spec = load_robot_spec()
            for i, (vx, yaw) in enumerate([(0.0, 0.0), (0.5, 0.0), (1.0, 0.3)]):
                save_motion(walking_clip(spec, 20.0, vx, yaw), Path(clips) / f"clip_{i}.npz")
            motions = [clips]
        print(f"backend {args.backend} ({args.device}), {args.threads} threads; env-steps/s (50 Hz control steps); "
              f"PPO split in % of its time")
        print(f"{'collision':<9} {'setting':<24} {'envs':>5} {'physics':>8} {'task':>7} {'+policy':>8} {'PPO':>7} | "
              + " ".join(f"{p[:7]:>7}" for p in PARTS + ("other",)) + f" | {'RSS MiB':>7}")
        for collision in args.collision:
            for override in args.setting:
                label = ";".join(f"{k}={v}" for k, v in _flat(override).items()) or "default"
                for envs in args.envs:
                    row = bench(envs, args, motions, collision, override)
                    split = " ".join(f"{row['split'][p]:>7.1f}" for p in PARTS + ("other",))
                    print(f"{collision:<9} {label[-24:]:<24} {envs:>5} {row['physics']:>8.0f} {row['task']:>7.0f} "
                          f"{row['task+policy']:>8.0f} {row['ppo']:>7.0f} | {split} | {row['rss']:>7.0f}", flush=True)


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


if __name__ == "__main__":
    sys.exit(main())
