#!/usr/bin/env python3
"""Does the teacher learn? A short real run on one standing-and-stepping motion, with its curves.

The walking pattern generator makes a 12 s clip (stand 2 s, walk 0.3 m/s 6 s, stop, stand); train-teacher's
code (config/tracking/teacher.yaml, smaller networks allowed) trains on it for ``--minutes`` of wall time. The
check isolates learning from robustness: by default without sensor noise, pushes, action delay and physics
randomization (``--full-physics`` keeps teacher.yaml's) and without the fading gantry (``--gantry`` keeps it).
Every iteration's mean episode length and reward (rsl-rl's last 100 episodes) and the key-body tracking term are
read back from the run's TensorBoard scalars for the curves. The verdict probes the policy the same way before
and after training (``--probe-steps`` steps of every environment, sampling actions as in training; episode length
= env-steps / episodes started, so running episodes count; the mean action is probed and reported too), always
without the gantry and, when it was used, also under the gantry level training ended with: the script prints a
table (with the learning rate and the gantry level), writes ``learning.png`` and ``learning.json`` to ``--out``,
and exits 1 unless the episode length grew x1.5 and the reward per step rose. ``--set KEY=VALUE`` overrides any
configuration key.

    python scripts/learning_check.py --out /tmp/learning                  # 10 minutes, 256 envs, 2 threads
    python scripts/learning_check.py --minutes 0 --iterations 2 --envs 16 --no-check   # CI smoke
    (after `source scripts/env.sh`)
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from twist_core.motion import save_motion
from twist_core.robot import load_robot_spec
from twist_training.tracking.config import QUIET_PHYSICS, ConfigError, dotted_overrides, load_config, merge
from twist_training.tracking.factories import make_env
from twist_training.tracking.train import TrackingRunner
from twist_training.tracking.probe import probe
from twist_training.walking.generator import WalkGenerator

ROOT = Path(__file__).resolve().parents[1]


def stepping_clip(path: Path) -> Path:
    """Stand 2 s, walk 0.3 m/s for 6 s, stand 4 s: one clip from the walking pattern generator."""
    spec = load_robot_spec()
    generator = WalkGenerator(spec)
    command = np.zeros((int(12 * generator.fps), 3))
    command[int(2 * generator.fps):int(8 * generator.fps), 0] = 0.3
    motion, _ = generator.generate(command, metadata={"purpose": "learning check"})
    save_motion(motion, path)
    return path


def run(args: argparse.Namespace) -> tuple[list[dict[str, float]], dict[str, dict[str, float]]]:
    """Probe, train (one iteration to time it, then as many as the budget allows), probe; read the curves.

    Probes: ``before``/``after`` without help; with the fading gantry (``task.assist``) also
    ``before_assisted``/``after_assisted``, both policies under the gantry level training ended with.
    """
    args.out.mkdir(parents=True, exist_ok=True)
    clip = stepping_clip(args.out / "stepping.npz")
    overrides = {
        "sim": {"num_envs": args.envs, "threads": args.threads}, "seed": args.seed,
        "references": {"motions": [str(clip)], "cmg_clips": 0},
        "network": {"actor_hidden": args.hidden, "critic_hidden": args.hidden,
                    **({"init_std": args.init_std} if args.init_std is not None else {})},
        "runner": {"save_interval": 10**9}}
    if not args.full_physics:
        overrides = merge(overrides, QUIET_PHYSICS)
    if not args.gantry:
        overrides = merge(overrides, {"task": {"assist": {"initial": 0.0}}})
    try:
        config = load_config(ROOT / "config" / "tracking" / "teacher.yaml",
                             merge(overrides, dotted_overrides(args.set)))
    except ConfigError as exc:
        raise SystemExit(f"learning_check: {exc}") from None
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    env = make_env(config, load_robot_spec())
    log_dir = args.out / "run"
    probes = {}
    with contextlib.redirect_stdout(io.StringIO()):  # rsl-rl's model printout and per-iteration reports
        runner = TrackingRunner(env, config, "teacher", log_dir, "cpu")
        initial = copy.deepcopy(runner.alg.actor)
        probes["before"] = probe(env, initial, args.probe_steps)
        start = time.monotonic()
        runner.learn(1)
        per_iteration = time.monotonic() - start
        budget = args.iterations - 1 if args.minutes <= 0 else int((args.minutes * 60 - per_iteration) / per_iteration)
        more = min(args.iterations - 1, budget)
        if more > 0:
            runner.current_learning_iteration += 1
            runner.learn(more)
        probes["after"] = probe(env, runner.alg.actor, args.probe_steps)
        if env.assist.active:
            probes["assist_level"] = {"level": env.assist.level}
            probes["before_assisted"] = probe(env, initial, args.probe_steps, env.assist.level)
            probes["after_assisted"] = probe(env, runner.alg.actor, args.probe_steps, env.assist.level)
    return curves(log_dir, args.envs * config.runner.num_steps_per_env), probes


def curves(log_dir: Path, steps_per_iteration: int) -> list[dict[str, float]]:
    """One row per iteration from the run's TensorBoard scalars."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    available = set(events.Tags()["scalars"])
    tags = {"episode_length": "Train/mean_episode_length", "reward": "Train/mean_reward",
            "keybody_term": "Reward/tracking_keybody_pos", "learning_rate": "Loss/learning_rate",
            "assist": "Curriculum/assist_level"}
    series = {key: {e.step: (e.value, e.wall_time) for e in events.Scalars(tag)} if tag in available else {}
              for key, tag in tags.items()}
    steps = sorted(series["keybody_term"])
    if not steps:
        return []
    start = series["keybody_term"][steps[0]][1]
    return [{"iteration": it, "seconds": series["keybody_term"][it][1] - start,
             "env_steps": (it + 1) * steps_per_iteration,
             **{key: series[key].get(it, (float("nan"), 0.0))[0] for key in tags}} for it in steps]


def compare(before: dict[str, float], after: dict[str, float]) -> str:
    """One line: the policy before and after training, probed the same way."""
    return (f"episode length {before['episode_length']:.1f} -> {after['episode_length']:.1f} steps, reward per step "
            f"{before['reward_per_step']:.4f} -> {after['reward_per_step']:.4f} (its mean action: "
            f"{before['deterministic_episode_length']:.1f} -> {after['deterministic_episode_length']:.1f} steps, "
            f"{before['deterministic_reward_per_step']:.4f} -> {after['deterministic_reward_per_step']:.4f})")


def verdict(probes: dict[str, dict[str, float]], iterations: int) -> tuple[bool, str]:
    """The trained policy against the untrained one, both without help: episode length x1.5 and more reward."""
    before, after = probes["before"], probes["after"]
    ok = after["episode_length"] >= 1.5 * before["episode_length"] and \
        after["reward_per_step"] > before["reward_per_step"]
    text = f"policy before/after {iterations} iterations, no gantry: {compare(before, after)}"
    if "after_assisted" in probes:
        text += (f"; under the gantry at the level training ended with ({probes['assist_level']['level']:.2f}): "
                 f"{compare(probes['before_assisted'], probes['after_assisted'])}")
    return ok, text


def plot(rows: list[dict[str, float]], path: Path) -> None:
    """Episode length, reward, key-body term and the gantry's level against env-steps (training conditions)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["env_steps"] / 1e6 for r in rows]
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.5))
    for ax, key, label in zip(axes, ("episode_length", "reward", "keybody_term", "assist"),
                              ("mean episode length [steps]", "mean episode reward", "key-body tracking term",
                               "gantry level (task.assist)")):
        ax.plot(steps, [r[key] for r in rows])
        ax.set_xlabel("env-steps [M]")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/learning_check"), help="output directory")
    parser.add_argument("--minutes", type=float, default=10.0, help="wall-clock training budget (0: --iterations)")
    parser.add_argument("--iterations", type=int, default=10**9, help="at most this many iterations")
    parser.add_argument("--envs", type=int, default=256, help="parallel environments")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256, 128], help="actor/critic layers")
    parser.add_argument("--init-std", type=float, help="initial action std (default: the teacher config's)")
    parser.add_argument("--full-physics", action="store_true",
                        help="teacher.yaml's sensor noise, pushes, action delay and physics randomization")
    parser.add_argument("--gantry", action="store_true", help="teacher.yaml's fading gantry (task.assist)")
    parser.add_argument("--probe-steps", type=int, default=250, help="control steps of each before/after probe")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a configuration key, e.g. --set algorithm.num_mini_batches=1 (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-check", action="store_true", help="report only; exit 0 whatever the curves")
    args = parser.parse_args(argv)
    rows, probes = run(args)
    print(f"{'iter':>5} {'wall s':>7} {'ep. len':>8} {'reward':>8} {'keybody':>8} {'lr':>8} {'assist':>6}")
    for i in sorted(set(range(0, len(rows), max(1, len(rows) // 20))) | {len(rows) - 1}):
        row = rows[i]
        print(f"{row['iteration']:>5d} {row['seconds']:>7.0f} {row['episode_length']:>8.1f} {row['reward']:>8.3f} "
              f"{row['keybody_term']:>8.4f} {row['learning_rate']:>8.1e} {row['assist']:>6.2f}")
    ok, text = verdict(probes, len(rows))
    plot(rows, args.out / "learning.png")
    (args.out / "learning.json").write_text(json.dumps({"rows": rows, **probes,
                                                        "ok": ok, "summary": text,
                                                        "envs": args.envs, "threads": args.threads}, indent=1))
    print(f"{'learning' if ok else 'NOT learning clearly'}: {text}; curves in {args.out / 'learning.png'}")
    return 0 if ok or args.no_check else 1


if __name__ == "__main__":
    sys.exit(main())
