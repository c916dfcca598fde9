#!/usr/bin/env python3
r"""How long does a tracker checkpoint stay up without help, and how fast does it walk? Probes of any checkpoint.

The checkpoint's actor (its own run configuration: task, randomization, networks) drives ``--envs`` environments
for ``--steps`` control steps with the gantry off, on the references given (``--motions``, plus ``--cmg-clips``
clips of the checkpoint's CMG; clips drawn by their weights, not by failures), twice: sampling actions as in
training and with the mean action. Each reports the episode length (env-steps / episodes started; running
episodes count), falls, reward per step and the mean tracking errors.

``--per-clip``: also a table per reference clip under the mean action (env-steps played, falls, falls per 1000
steps, joint and key-body errors), the clips the policy falls on most first: which clips of a list still fail.
``--per-part``: also the error per policy joint (mean absolute and mean signed, robot - reference; ``follow``, the
slope of the robot's angle on the reference's: 1 follows the whole swing, 0 ignores it) and per key body under the
mean action, largest first: where the tracking error lives (a steady offset, a lag, a swing followed in part).

``--commands``: the command probe instead. Per command, ``--envs`` CMG clips of ``--command-seconds`` that stand
1 s and then hold the command; the mean action drives every environment for ``--steps`` steps and the pelvis
velocity (heading frame) and yaw rate achieved are measured from 3 s into the clips on, against the reference's.
A tracker that keeps its joints and key bodies on the reference can still walk slower than commanded; the gait
line shows how: leg-joint amplitudes over the reference's (below 1: shorter steps), mean offsets (a positive knee
offset: more bent than the reference) and the time on both feet; the targets line the same for the joint targets
the policy sends (short targets: the policy chooses a short step; full targets over a short swing: the PD loop
does not follow).

    python scripts/probe_checkpoint.py --checkpoint runs/teacher_v1/model_1500.pt --motions data/walk400
    python scripts/probe_checkpoint.py --checkpoint runs/teacher_v1/model_1500.pt --motions data/walk400 --quiet-physics
    python scripts/probe_checkpoint.py --checkpoint models/teacher_mocap/model_850.pt \
        --motions data/g1_moves/train.yaml --envs 64 --steps 500 --quiet-physics --per-clip --per-part
    python scripts/probe_checkpoint.py --checkpoint runs/teacher_v1/model_1500.pt --commands 0.5,0,0 1.0,0,0 0,0.3,0 \
        --envs 16 --steps 600 --quiet-physics
    (after `source scripts/env.sh`)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from twist_core.cli_commands import parse_command, protect_negative_commands
from twist_core.robot import load_robot_spec
from twist_training.tracking.checkpoints import actor_from_checkpoint, checkpoint_config, load_checkpoint
from twist_training.tracking.config import QUIET_PHYSICS, ConfigError, RunConfig
from twist_training.tracking.factories import make_env
from twist_training.tracking.probe import GAIT_JOINTS, clip_probe, command_tracking, part_probe, probe


SETTLE_SECONDS = 3.0  # a command probe's clips stand 1 s, then the CMG needs ~2 s to reach the command


def gait_line(label: str, result: dict, prefix: str) -> str:
    """One probe line: amplitude over the reference's and mean offset per gait joint, keys ``<prefix><joint>_...``."""
    return (f"    {label}: amplitude / reference "
            + " ".join(f"{j} {result[f'{prefix}{j}_amplitude']:.2f}" for j in GAIT_JOINTS)
            + "; offset [rad] " + " ".join(f"{j} {result[f'{prefix}{j}_offset']:+.3f}" for j in GAIT_JOINTS))


def command_config(config: RunConfig, command: tuple[float, float, float], clips: int, seconds: float) -> RunConfig:
    """Return the run configuration of the command probe: ``clips`` CMG clips holding ``command``, nothing else."""
    pinned = {"vx": [command[0]] * 2, "vy": [command[1]] * 2, "yaw_rate": [command[2]] * 2,
              "stand_probability": 0.0, "segment": [seconds, seconds]}
    return config.override({"references": {"motions": [], "cmg_clips": clips, "cmg_seconds": seconds,
                                           "commands": pinned}})


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="model_<iteration>.pt of train-teacher/-student")
    parser.add_argument("--motions", nargs="+", help="motion lists/dirs/files (default: the checkpoint's)")
    parser.add_argument("--cmg-clips", type=int, default=0, help="CMG clips too (0: the motions only)")
    parser.add_argument("--commands", nargs="+", type=parse_command, metavar="VX,VY,WZ",
                        help="instead: the command probe, CMG clips holding each command (velocity achieved)")
    parser.add_argument("--per-clip", action="store_true",
                        help="also a table per reference clip (mean action): falls and errors, most falls first")
    parser.add_argument("--per-part", action="store_true",
                        help="also the error per policy joint and key body (mean action), largest first")
    parser.add_argument("--command-seconds", type=float, default=30.0, help="length of a command probe's clips")
    parser.add_argument("--cmg-model", help="exported CMG (default: the checkpoint's)")
    parser.add_argument("--envs", type=int, default=128)
    parser.add_argument("--steps", type=int, default=250, help="control steps per environment and probe")
    parser.add_argument("--quiet-physics", action="store_true",
                        help="no sensor noise, pushes, action delay or physics randomization")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(protect_negative_commands(sys.argv[1:] if argv is None else argv))
    overrides = {"sim": {"num_envs": args.envs, "threads": args.threads}, "seed": args.seed,
                 "references": {"cmg_clips": args.cmg_clips, **({"motions": args.motions} if args.motions else {}),
                                **({"cmg_model": args.cmg_model} if args.cmg_model else {}),
                                "sampling": {"mode": "clip"}}}  # a probe draws clips by weight, not by failures
    try:
        state = load_checkpoint(args.checkpoint)
        config = checkpoint_config(state).override(overrides)
        if args.quiet_physics:
            config = config.override(QUIET_PHYSICS)
    except ConfigError as exc:
        print(f"probe_checkpoint: {exc}", file=sys.stderr)
        return 2
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    spec, role = load_robot_spec(), state["infos"]["role"]
    print(f"{args.checkpoint} ({role}, {args.envs} envs x {args.steps} steps, gantry off"
          f"{', quiet physics' if args.quiet_physics else ''}):")
    if args.commands:
        print(f"  {'command vx vy wz':<24} {'achieved vx vy wz':<24} {'reference vx vy wz':<24} falls/1000 steps")
        for command in args.commands:
            env = make_env(command_config(config, command, args.envs, args.command_seconds), spec)
            actor = actor_from_checkpoint(state, env.get_observations(), env.num_actions, role)
            r = command_tracking(env, actor, args.steps, int(SETTLE_SECONDS / env.dt))
            print("  " + "  ".join(f"{a:+.2f} {b:+.2f} {c:+.2f}".ljust(22) for a, b, c in (
                command, (r["vx"], r["vy"], r["yaw_rate"]),
                (r["reference_vx"], r["reference_vy"], r["reference_yaw_rate"])))
                  + f"  {r['falls_per_1000_steps']:.2f}")
            print(gait_line("gait", r, "") + f"; both feet down {r['double_support']:.0%}")
            print(gait_line("targets", r, "target_"))
        return 0
    env = make_env(config, spec)
    actor = actor_from_checkpoint(state, env.get_observations(), env.num_actions, role)
    for key, value in probe(env, actor, args.steps).items():
        print(f"  {key:<36} {value:.4f}")
    if args.per_clip:
        print(f"  {'clip':<40} {'env-steps':>9} {'falls':>5} {'falls/1000':>10} {'joint [rad]':>11}"
              f" {'key-body [m]':>12}")
        for row in clip_probe(env, actor, args.steps):
            print(f"  {row['name']:<40} {row['env_steps']:>9} {row['falls']:>5} {row['falls_per_1000_steps']:>10.2f}"
                  f" {row['joint_error']:>11.3f} {row['keybody_error']:>12.3f}")
    if args.per_part:
        parts = part_probe(env, actor, args.steps)
        print(f"  {'policy joint':<28} {'|error| [rad]':>13} {'mean error [rad]':>16} {'follow':>6}")
        for row in parts["joints"]:
            print(f"  {row['name']:<28} {row['abs_error']:>13.3f} {row['mean_error']:>+16.3f} {row['follow']:>6.2f}")
        print(f"  {'key body':<28} {'error [m]':>13}")
        for row in parts["key_bodies"]:
            print(f"  {row['name']:<28} {row['error']:>13.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
