"""eval-policy: an exported student policy tracking reference clips in the batched simulation, headless.

    eval-policy --policy models/student/policy.onnx --config config/tracking/student.yaml --seconds 20
    eval-policy --policy policy.onnx --motions data/walk400 --envs 32 --video eval.mp4 --out eval/

The policy runs through ``twist_core.policy_runtime`` (ONNX Runtime, what the policy node runs) on the task's
student observation; the task, references and randomization come from the run configuration (``--config``, and
``--motions`` / ``--cmg-model`` / ``--cmg-clips``); ``--quiet-physics`` turns sensor noise, pushes, action delay
and physics randomization off. Every environment runs ``--seconds`` of simulated time; an episode that ends (clip end or
failure) restarts on a new clip. One table row per clip: episodes, failures (terminations: tilt, height, key
bodies off the reference), mean episode length, joint / key-body / root-velocity tracking errors; ``--out``
writes ``eval.json`` too. ``--video`` records environment 0 as mp4 (offscreen rendering; software EGL is slow).
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering for --video, chosen before MuJoCo loads

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import mujoco  # noqa: E402
import torch  # noqa: E402

from twist_core.policy_runtime import PolicyModelError, PolicyRuntime  # noqa: E402
from twist_core.robot import load_robot_spec  # noqa: E402
from twist_core.video import open_recorder  # noqa: E402
from twist_training.tracking.config import QUIET_PHYSICS, ConfigError, RunConfig, load_config, merge  # noqa: E402
from twist_training.tracking.factories import make_env  # noqa: E402
from twist_training.tracking.probe import ERRORS  # noqa: E402
from twist_training.tracking.task import TrackingEnv  # noqa: E402
from twist_training.tracking.train import add_reference_arguments, reference_overrides  # noqa: E402


def evaluate(env: TrackingEnv, runtime: PolicyRuntime, seconds: float,
             video: str = "") -> list[dict[str, Any]]:
    """Run every environment for ``seconds``; per-clip rows (sorted by clip name)."""
    sums: dict[int, collections.Counter] = collections.defaultdict(collections.Counter)
    recorder, data = None, None
    if video:
        recorder, message = open_recorder(env.sim.model, video, fps=15.0)
        print(message)
        data = mujoco.MjData(env.sim.model)
    obs = env.get_observations()
    for step in range(int(round(seconds / env.dt))):
        actions = runtime.act(obs["student"].cpu().numpy())
        motion = env.motion_ids.cpu().numpy().copy()
        obs, _, dones, extras = env.step(torch.as_tensor(actions, device=env.device))
        errors = {k: extras["errors"][k].cpu().numpy() for k in ERRORS}
        ended = dones.cpu().numpy().astype(bool)
        failed = ended & ~extras["time_outs"].cpu().numpy().astype(bool)
        for i, clip in enumerate(motion):
            row = sums[int(clip)]
            row["steps"] += 1
            row["episodes"] += int(ended[i])
            row["failures"] += int(failed[i])
            for key in ERRORS:
                row[key] += float(errors[key][i])
        if recorder is not None:
            data.qpos[:] = env.sim.qpos()[0].cpu().numpy()
            data.time = (step + 1) * env.dt
            mujoco.mj_forward(env.sim.model, data)
            recorder.maybe_capture(data)
    if recorder is not None:
        recorder.close()
    rows = []
    for clip, row in sums.items():
        episodes = max(row["episodes"], 1)
        rows.append({"clip": env.library.names[clip], "episodes": row["episodes"], "failures": row["failures"],
                     "mean_episode_s": row["steps"] * env.dt / episodes,
                     **{f"{key}_error": row[key] / row["steps"] for key in ERRORS}, "steps": row["steps"]})
    return sorted(rows, key=lambda r: r["clip"])


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over clips (errors weighted by steps)."""
    steps = sum(r["steps"] for r in rows)
    return {"clip": "all", "episodes": sum(r["episodes"] for r in rows),
            "failures": sum(r["failures"] for r in rows),
            "mean_episode_s": sum(r["mean_episode_s"] * max(r["episodes"], 1) for r in rows)
            / max(sum(max(r["episodes"], 1) for r in rows), 1),
            **{f"{k}_error": sum(r[f"{k}_error"] * r["steps"] for r in rows) / steps for k in ERRORS},
            "steps": steps}


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a text table."""
    lines = [f"{'clip':<24} {'episodes':>8} {'failures':>8} {'episode s':>9} {'joint rad':>9} {'key m':>7} "
             f"{'vel m/s':>7}"]
    for r in rows:
        lines.append(f"{r['clip'][:24]:<24} {r['episodes']:>8d} {r['failures']:>8d} {r['mean_episode_s']:>9.2f} "
                     f"{r['joint_error']:>9.3f} {r['keybody_error']:>7.3f} {r['root_vel_error']:>7.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line: ``eval-policy``."""
    parser = argparse.ArgumentParser(prog="eval-policy", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", type=Path, required=True, help="exported student (.onnx)")
    parser.add_argument("--config", type=Path, help="run configuration (default: the policy's training config)")
    add_reference_arguments(parser)
    parser.add_argument("--envs", type=int, default=32, help="parallel environments")
    parser.add_argument("--seconds", type=float, default=20.0, help="simulated seconds per environment")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument("--quiet-physics", action="store_true", help="no noise, pushes, delay or physics randomization")
    parser.add_argument("--video", default="", help="mp4 of environment 0")
    parser.add_argument("--out", type=Path, help="directory for eval.json")
    args = parser.parse_args(argv)
    spec = load_robot_spec()
    try:
        runtime = PolicyRuntime(args.policy, spec)
        base = runtime.metadata.get("training_config") if args.config is None else None
        if args.config is None and not isinstance(base, dict):
            raise ConfigError(f"{args.policy} carries no training_config: give --config")
        overrides: dict[str, Any] = {"sim": {"num_envs": args.envs, "threads": args.threads},
                                     "task": {"assist": {"initial": 0.0}}}  # never a gantry in evaluation
        refs = reference_overrides(args)
        if refs:
            overrides["references"] = refs
        if args.quiet_physics:
            overrides = merge(overrides, QUIET_PHYSICS)
        config = (RunConfig.from_dict(base).override(overrides) if base is not None
                  else load_config(args.config, overrides))
        torch.set_num_threads(args.threads)
        env = make_env(config, spec)
    except (PolicyModelError, ConfigError, OSError) as exc:
        print(f"eval-policy: {exc}", file=sys.stderr)
        sys.exit(2)
    rows = evaluate(env, runtime, args.seconds, args.video)
    rows.append(summary(rows))
    print(table(rows))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "eval.json").write_text(json.dumps({"policy": str(args.policy), "seconds": args.seconds,
                                                        "envs": args.envs, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
