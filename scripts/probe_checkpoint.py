#!/usr/bin/env python3
"""How long does a tracker checkpoint stay up without help? The unassisted probe of a train-teacher checkpoint.

The checkpoint's actor (its own run configuration: task, randomization, networks) drives ``--envs`` environments
for ``--steps`` control steps with the gantry off, on the references given (``--motions``, plus ``--cmg-clips``
clips of the checkpoint's CMG), twice: sampling actions as in training and with the mean action. Each reports the
episode length (env-steps / episodes started; running episodes count), falls, reward per step and the mean
tracking errors.

    python scripts/probe_checkpoint.py --checkpoint runs/teacher_v1/model_1500.pt --motions data/walk400
    python scripts/probe_checkpoint.py --checkpoint models/teacher/model_950.pt --motions data/walk400 --quiet-physics
    (after `source scripts/env.sh`)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from twist_core.robot import load_robot_spec
from twist_training.tracking import train as tracking
from twist_training.tracking.probe import probe


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="model_<iteration>.pt of train-teacher")
    parser.add_argument("--motions", nargs="+", help="motion lists/dirs/files (default: the checkpoint's)")
    parser.add_argument("--cmg-clips", type=int, default=0, help="CMG clips too (0: the motions only)")
    parser.add_argument("--envs", type=int, default=128)
    parser.add_argument("--steps", type=int, default=250, help="control steps per environment and probe")
    parser.add_argument("--quiet-physics", action="store_true",
                        help="no sensor noise, pushes, action delay or physics randomization")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        state = tracking.load_checkpoint(args.checkpoint)
    except tracking.ConfigError as exc:
        print(f"probe_checkpoint: {exc}", file=sys.stderr)
        return 2
    overrides = {"sim": {"num_envs": args.envs, "threads": args.threads}, "seed": args.seed,
                 "references": {"cmg_clips": args.cmg_clips, **({"motions": args.motions} if args.motions else {})}}
    config = tracking.merge(state["infos"]["config"], overrides)
    if args.quiet_physics:
        config = tracking.merge(config, tracking.QUIET_PHYSICS)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    env = tracking.make_env(config, load_robot_spec())
    actor = tracking.actor_from_checkpoint(state, env.get_observations(), env.num_actions, "teacher")
    result = probe(env, actor, args.steps)
    print(f"{args.checkpoint} ({args.envs} envs x {args.steps} steps, gantry off"
          f"{', quiet physics' if args.quiet_physics else ''}):")
    for key, value in result.items():
        print(f"  {key:<36} {value:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
