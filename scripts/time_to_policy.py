#!/usr/bin/env python3
r"""Time to a policy: train a walking teacher from scratch until the command probe says it walks, or a time limit.

Trains ``train-teacher`` with ``--config`` (plus ``--set`` overrides) in chunks of ``--probe-every`` iterations;
after each chunk the command probe (``scripts/probe_checkpoint.py --commands``: CMG clips holding the command,
the mean action, gantry off, quiet physics) drives ``--probe-envs`` environments for ``--probe-steps`` steps at
``--command`` (default 0.5 m/s forward). The policy walks when no environment fell and the achieved forward
speed is within ``--tolerance`` (0.1 m/s) of the command. Prints one line per probe (wall minutes, iteration,
env-steps, achieved velocity, falls) and the wall time to the first walking probe (the probes' own time
excluded, and reported apart), and writes ``result.json`` in ``--out``.

    python scripts/time_to_policy.py --config config/tracking/teacher.yaml --out runs/ttp --minutes 120
    python scripts/time_to_policy.py --config config/tracking/teacher.yaml --out runs/ttp_fast --minutes 120 \
        --set algorithm.num_learning_epochs=2 --set sim.collision=capsules
    python scripts/time_to_policy.py --config config/tracking/teacher.yaml --out runs/ttp_gpu --backend warp \
        --device cuda:0 --num-envs 8192 --minutes 10
    (after `source scripts/env.sh`; the config's references must exist: walk-dataset data and/or the CMG)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from twist_core.robot import load_robot_spec
from twist_training.tracking.config import QUIET_PHYSICS, ConfigError, RunConfig, dotted_overrides, load_config, merge
from twist_training.tracking.factories import BACKENDS, make_env
from twist_training.tracking.train import train
from twist_training.tracking.probe import command_tracking

SETTLE_SECONDS = 3.0  # the probe's clips stand 1 s, then the CMG needs ~2 s to reach the command


def probe_config(config: RunConfig, command: tuple[float, float, float], envs: int, seconds: float) -> RunConfig:
    """The command probe's configuration: ``envs`` CMG clips holding ``command``, quiet physics, no other clips."""
    pinned = {"vx": [command[0]] * 2, "vy": [command[1]] * 2, "yaw_rate": [command[2]] * 2,
              "stand_probability": 0.0, "segment": [seconds, seconds]}
    return config.override(merge({"sim": {"num_envs": envs}, "references": {
        "motions": [], "cmg_clips": envs, "cmg_seconds": seconds, "commands": pinned}}, QUIET_PHYSICS))


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True, help="train-teacher configuration")
    parser.add_argument("--out", type=Path, required=True, help="run directory (a fresh run is started)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a configuration override (YAML value), e.g. algorithm.num_learning_epochs=2 "
                             "(repeatable)")
    parser.add_argument("--minutes", type=float, default=60.0, help="training time limit (wall minutes)")
    parser.add_argument("--probe-every", type=int, default=50, help="iterations between probes")
    parser.add_argument("--command", type=float, nargs=3, default=[0.5, 0.0, 0.0], metavar=("VX", "VY", "WZ"))
    parser.add_argument("--tolerance", type=float, default=0.1, help="|achieved - commanded| forward speed [m/s]")
    parser.add_argument("--probe-envs", type=int, default=16)
    parser.add_argument("--probe-steps", type=int, default=500, help="control steps per probe (10 s)")
    parser.add_argument("--num-envs", type=int, help="training environments (overrides the config)")
    parser.add_argument("--backend", choices=BACKENDS, default="cpu")
    parser.add_argument("--device", default="cpu", help="torch/warp device: cpu, cuda:0")
    args = parser.parse_args(argv)
    try:
        overrides = merge(dotted_overrides(args.set), {"iterations": 0})
        if args.num_envs:
            overrides = merge(overrides, {"sim": {"num_envs": args.num_envs}})
        config = load_config(args.config, overrides)
        started = time.monotonic()
        runner = train("teacher", config, args.out, args.backend, args.device, restart=True)
        spec = load_robot_spec()
        probe_env = make_env(probe_config(config, tuple(args.command), args.probe_envs, 30.0), spec,
                             args.backend, args.device)
    except ConfigError as exc:
        print(f"time_to_policy: {exc}", file=sys.stderr)
        return 2
    setup = time.monotonic() - started
    steps_per_iteration = config.runner.num_steps_per_env * config.sim.num_envs
    print(f"set-up {setup:.0f} s; {steps_per_iteration} env-steps per iteration; probing "
          f"{args.command} every {args.probe_every} iterations", flush=True)
    print(f"{'minutes':>8} {'iteration':>9} {'env-steps':>10} {'vx':>6} {'vy':>6} {'wz':>6} {'falls':>6}  walks")
    training, probing, rows, reached = 0.0, 0.0, [], None
    while training < args.minutes * 60.0 and reached is None:
        start = time.monotonic()
        runner.learn(args.probe_every)
        runner.current_learning_iteration += 1
        training += time.monotonic() - start
        start = time.monotonic()
        result = command_tracking(probe_env, runner.alg.get_policy(), args.probe_steps,
                                  int(SETTLE_SECONDS / probe_env.dt))
        probing += time.monotonic() - start
        walks = result["falls_per_1000_steps"] == 0.0 and abs(result["vx"] - args.command[0]) <= args.tolerance
        row = {"minutes": training / 60.0, "iteration": runner.current_learning_iteration,
               "env_steps": runner.current_learning_iteration * steps_per_iteration, "walks": walks,
               **{k: result[k] for k in ("vx", "vy", "yaw_rate", "falls_per_1000_steps")}}
        rows.append(row)
        print(f"{row['minutes']:8.1f} {row['iteration']:9d} {row['env_steps']:10d} {row['vx']:6.2f} {row['vy']:6.2f} "
              f"{row['yaw_rate']:6.2f} {row['falls_per_1000_steps']:6.2f}  {'yes' if walks else 'no'}", flush=True)
        if walks:
            reached = row
    summary = (f"walking teacher in {reached['minutes']:.1f} min of training ({reached['iteration']} iterations, "
               f"{reached['env_steps'] / 1e6:.1f} M env-steps)" if reached else
               f"no walking teacher within {args.minutes:g} min ({runner.current_learning_iteration} iterations)")
    print(f"{summary}; set-up {setup / 60:.1f} min, probes {probing / 60:.1f} min; {args.backend} {args.device}, "
          f"{torch.get_num_threads()} torch threads")
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"summary": summary, "reached": reached, "probes": rows, "setup_s": setup, "probing_s": probing,
              "config": config.to_dict()}
    (args.out / "result.json").write_text(json.dumps(result, indent=1, default=float))
    return 0 if reached else 1


if __name__ == "__main__":
    sys.exit(main())
