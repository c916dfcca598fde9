#!/usr/bin/env python3
"""Benchmark tracker training throughput: raw batched physics, the tracking task, and a full PPO iteration.

For each number of environments, one row:

- physics: control steps/s of the batched simulation alone (4 MuJoCo substeps per control step, fixed targets);
- task: env-steps/s of ``TrackingEnv.step`` (physics + rewards, terminations, resets, observations);
- task+policy: the same with the teacher actor (config network) sampling each step's actions in torch;
- PPO: env-steps/s of whole rsl-rl iterations (24-step rollouts + 5 epochs x 4 mini-batches), and the share of
  the iteration spent learning;
- RSS: the process' peak resident memory after the row [MiB].

    python scripts/bench_tracking.py                         # 64, 256, 1024 envs, MuJoCo C on 2 threads
    python scripts/bench_tracking.py --envs 4096 --backend warp --device cuda:0
    (after `source scripts/env.sh`; clips: synthetic walking clips unless --motions)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

from twist_core.motion import save_motion
from twist_core.robot import load_robot_spec
from twist_core.testing.motion_fixture import walking_clip
from twist_training.tracking import train as tracking


def _rate(step, n: int, envs: int) -> float:
    step()  # warm-up (first-call allocations, Warp graph capture)
    start = time.perf_counter()
    for _ in range(n):
        step()
    return n * envs / (time.perf_counter() - start)


def bench(envs: int, args: argparse.Namespace, motions: list[str]) -> dict[str, float]:
    """One row of the table."""
    config = tracking.load_config(None, {"sim": {"num_envs": envs, "threads": args.threads},
                                         "references": {"motions": motions}})
    spec = load_robot_spec()
    env = tracking.make_env(config, spec, args.backend, args.device)
    targets = torch.tensor(spec.default_pose, dtype=torch.float32).repeat(envs, 1).to(env.device)
    row = {"physics": _rate(lambda: env.sim.step(targets), args.steps, envs)}
    row["task"] = _rate(lambda: env.step(torch.zeros(envs, env.num_actions, device=env.device)), args.steps, envs)
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):  # rsl-rl's prints
        runner = tracking.TrackingRunner(env, config, "teacher", Path(out), args.device)
        policy = runner.alg.actor

        def act() -> None:
            with torch.inference_mode():
                env.step(policy(env.get_observations(), stochastic_output=True))

        row["task+policy"] = _rate(act, args.steps, envs)
        runner.logger.disable_logs = True
        start = time.perf_counter()
        runner.learn(args.iterations)
        elapsed = time.perf_counter() - start
    row["ppo"] = args.iterations * config["runner"]["num_steps_per_env"] * envs / elapsed
    row["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    env.sim.close()
    return row


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", type=int, nargs="+", default=[64, 256, 1024], help="environment counts")
    parser.add_argument("--backend", choices=("cpu", "warp"), default="cpu")
    parser.add_argument("--device", default="cpu", help="cpu or cuda:N (warp)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (simulation and torch)")
    parser.add_argument("--steps", type=int, default=50, help="control steps per measurement")
    parser.add_argument("--iterations", type=int, default=2, help="PPO iterations per row")
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
        print(f"backend {args.backend} ({args.device}), {args.threads} threads; env-steps/s (50 Hz control steps)")
        print(f"{'envs':>6} {'physics':>10} {'task':>10} {'task+policy':>12} {'PPO':>10} {'RSS MiB':>8}")
        for envs in args.envs:
            row = bench(envs, args, motions)
            print(f"{envs:>6} {row['physics']:>10.0f} {row['task']:>10.0f} {row['task+policy']:>12.0f} "
                  f"{row['ppo']:>10.0f} {row['rss']:>8.0f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
