"""cmg-eval: free-run an exported CMG for a minute per command and report whether it generates a usable gait.

    cmg-eval --model models/cmg/cmg.onnx --out reports/cmg

The model is run exactly as the ``cmg_reference`` node runs it (``twist_core.cmg_runtime.CmgFreeRun``, ONNX
Runtime): from the standing frame, 1 s of zero command, then the command for ``--seconds``; every output is clamped
to the joint limits before it is fed back, and zero commands settle into the standing frame (the node's standing
hold; ``--no-standing-hold`` evaluates the model alone). For each command of a grid over the model's command range
(rows up to 0.025 outside it clamped into it, as the node clamps commands) it measures, on the raw outputs:

- **limit violations**: fraction of frames with a joint outside its limits (before clamping);
- **drift**: largest change of a joint's mean position between the second 10 s and the last 10 s [rad];
- **gait period** and **periodicity**: from the autocorrelation of the left-minus-right ankle height (forward
  kinematics, root frame); periodicity is the autocorrelation at that period (1 = perfectly periodic);
- **achieved velocity and yaw rate**: the stance foot (the lower ankle) moved backwards and turned under the
  body, i.e. leg odometry, compared with the command; **stride** = speed x period;
- **standing**: for zero commands, the largest ankle lift and the joint speed.

A row passes when it has no limit violation, drift < ``--max-drift``, finite outputs, and (moving commands) a
periodic gait or (standing) feet that stay down. Writes ``report.md`` (table), ``report.json`` and PNG plots.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from twist_core.cmg_runtime import CmgFreeRun, CmgModelError, CmgRuntime, StandingHold
from twist_core.model import key_body_frames
from twist_core.robot import RobotSpec, load_robot_spec

LIMIT_TOLERANCE = 1e-3
RANGE_TOLERANCE = 0.025  # [m/s, rad/s] how far outside the model's range a grid row is clamped, not dropped
SETTLE_SECONDS = 1.0
PERIODICITY = 0.4  # the generator's own 3-5 s walking segments score 0.49-0.77
DEFAULT_GRID = ((0.0, 0.0, 0.0), (0.1, 0.0, 0.0), (0.2, 0.0, 0.0), (0.25, 0.0, 0.0), (0.5, 0.0, 0.0),
                (0.75, 0.0, 0.0), (1.0, 0.0, 0.0), (1.25, 0.0, 0.0), (1.5, 0.0, 0.0), (-0.3, 0.0, 0.0),
                (-0.5, 0.0, 0.0), (0.0, 0.3, 0.0), (0.0, -0.3, 0.0), (0.0, 0.5, 0.0), (0.0, -0.5, 0.0),
                (0.0, 0.0, 0.5), (0.0, 0.0, -0.5), (0.0, 0.0, 1.0), (0.0, 0.0, -1.0), (0.0, 0.0, 1.5),
                (0.0, 0.0, -1.5), (0.5, 0.0, 0.5), (0.8, 0.0, 0.5), (0.5, 0.2, 0.0), (0.5, 0.3, 0.0))


@dataclasses.dataclass
class Row:
    """The evaluation of one command."""

    command: tuple[float, float, float]
    violation_rate: float
    worst_violation: float
    drift: float
    finite: bool
    period: float
    periodicity: float
    achieved: tuple[float, float, float]
    stride: float
    ankle_lift: float
    joint_speed: float
    passed: bool

    @property
    def moving(self) -> bool:
        """Whether the command asks for motion."""
        return bool(np.any(np.abs(self.command) > 1e-6))


def grid(runtime: CmgRuntime, commands: Sequence[Sequence[float]] = DEFAULT_GRID,
         tolerance: float = RANGE_TOLERANCE) -> list[tuple[float, ...]]:
    """The commands of ``commands`` the model can be asked for (standing kept although a range may exclude it).

    A model's range is the data's sampled min/max (1.49 where the generator asked for 1.5): a command within
    ``tolerance`` of the range is evaluated clamped into it, as the node clamps it; farther outside, it is left out.
    """
    keep = []
    for command in commands:
        command = np.asarray(command, dtype=float)
        if not np.any(command):
            inside = (0.0, 0.0, 0.0)
        else:
            clamped = runtime.clamp_command(command)
            if np.any(np.abs(clamped - command) > tolerance):
                continue
            inside = tuple(round(float(c), 3) + 0.0 for c in clamped)
        if inside not in keep:
            keep.append(inside)
    return keep


def free_run(runtime: CmgRuntime, commands: np.ndarray, seconds: float, hold: StandingHold | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Raw and clamped frames (T + 1, B, 58) for commands (B, 3): settle at zero, then each command.

    ``hold``: the standing hold's settings (default: the node's); non-finite outputs restart from standing.
    """
    runner = CmgFreeRun(runtime, hold)
    steps = int(round((SETTLE_SECONDS + seconds) * runtime.fps))
    settle = int(round(SETTLE_SECONDS * runtime.fps))
    state = runner.start(len(commands))
    raw, clamped = [state.motion], [state.motion]
    for step in range(steps):
        state, out = runner.step(state, np.zeros_like(commands) if step < settle else commands)
        raw.append(out)
        if not (np.all(np.isfinite(state.motion)) and np.all(np.isfinite(state.model))):
            state = state._replace(**{field: np.where(np.isfinite(frame), frame, runner.standing)
                                      for field, frame in (("motion", state.motion), ("model", state.model))})
        clamped.append(state.motion)
    return np.stack(raw), np.stack(clamped)


def ankle_positions(spec: RobotSpec, joint_pos: np.ndarray) -> np.ndarray:
    """Left and right ankle positions (T, 2, 3) in the root frame (root at the origin, upright)."""
    return ankle_frames(spec, joint_pos)[0]


def ankle_frames(spec: RobotSpec, joint_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left and right ankle positions (T, 2, 3) and yaw angles (T, 2) in the root frame (root at the origin)."""
    names = list(spec.key_body_names)
    ankles = [names.index("left_ankle"), names.index("right_ankle")]
    positions, rotations = key_body_frames(spec, np.zeros((len(joint_pos), 3)),
                                           np.tile([1.0, 0.0, 0.0, 0.0], (len(joint_pos), 1)), joint_pos)
    rotations = rotations[:, ankles]
    return positions[:, ankles], np.arctan2(rotations[..., 1, 0], rotations[..., 0, 0])


def gait_period(signal: np.ndarray, fps: float, min_period: float = 0.4, max_period: float = 3.0) -> tuple[
        float, float]:
    """Period [s] and strength (autocorrelation at that lag) of a roughly periodic signal; (0, 0) if flat."""
    x = signal - signal.mean()
    if np.std(x) < 1e-4:
        return 0.0, 0.0
    spectrum = np.fft.rfft(x, 2 * len(x))
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:len(x)]
    acf /= acf[0]
    lo, hi = int(min_period * fps), min(int(max_period * fps), len(x) - 1)
    lag = lo + int(np.argmax(acf[lo:hi]))
    return lag / fps, float(acf[lag])


def leg_odometry(ankles: np.ndarray, yaws: np.ndarray, fps: float) -> np.ndarray:
    """Mean body velocity (vx, vy) and yaw rate from the stance ankle (the lower one) moving under the body.

    ``ankles`` (T, 2, 3) and ``yaws`` (T, 2) are the ankles' positions and yaw angles in the root frame.
    """
    stance = np.argmin(ankles[:, :, 2], axis=1)
    same = stance[1:] == stance[:-1]
    index = np.arange(len(ankles) - 1)
    p0 = ankles[index, stance[:-1], :2]
    p1 = ankles[index + 1, stance[:-1], :2]
    # A foot fixed in the world, seen from a frame moving with v and turning with w, turns by -w and moves with
    # dp/dt = -v - w x p.
    turn = np.angle(np.exp(1j * (yaws[index + 1, stance[:-1]] - yaws[index, stance[:-1]])))
    yaw_rate = -turn * fps
    dp = (p1 - p0) * fps
    w_cross_p = yaw_rate[:, None] * np.column_stack([-p0[:, 1], p0[:, 0]])
    velocity = np.column_stack([-(dp + w_cross_p), yaw_rate])
    return velocity[same].mean(0) if np.any(same) else np.zeros(3)


def evaluate_row(runtime: CmgRuntime, command: np.ndarray, raw: np.ndarray, clamped: np.ndarray,
                 max_drift: float) -> Row:
    """Metrics of one command's free run (frames after the settling second)."""
    spec, fps = runtime.spec, runtime.fps
    n = spec.num_joints
    settle = int(round(SETTLE_SECONDS * fps))
    raw, clamped = raw[settle + 1:], clamped[settle + 1:]
    finite = bool(np.all(np.isfinite(raw)))
    joints = np.where(np.isfinite(raw[:, :n]), raw[:, :n], 0.0)
    below = np.maximum(spec.lower_limits - joints, 0.0)
    above = np.maximum(joints - spec.upper_limits, 0.0)
    excess = np.maximum(below, above)
    violation_rate = float(np.mean(np.any(excess > LIMIT_TOLERANCE, axis=1)))
    ten = int(10 * fps)
    q = clamped[:, :n]
    drift = float(np.abs(q[ten:2 * ten].mean(0) - q[-ten:].mean(0)).max()) if len(q) >= 3 * ten else float(
        np.abs(q[:len(q) // 2].mean(0) - q[len(q) // 2:].mean(0)).max())
    ankles, yaws = ankle_frames(spec, q)
    tail, tail_yaws = ankles[len(ankles) // 3:], yaws[len(yaws) // 3:]
    period, periodicity = gait_period(tail[:, 0, 2] - tail[:, 1, 2], fps)
    achieved = leg_odometry(tail, tail_yaws, fps)
    lift = float(max(np.ptp(tail[:, 0, 2]), np.ptp(tail[:, 1, 2])))
    joint_speed = float(np.sqrt(np.mean(clamped[len(clamped) // 3:, n:] ** 2)))
    moving = bool(np.any(np.abs(command) > 1e-6))
    gait_ok = periodicity > PERIODICITY if moving else lift < 0.02
    passed = finite and violation_rate == 0.0 and drift < max_drift and gait_ok
    return Row(tuple(float(c) for c in command), violation_rate, float(excess.max()), drift, finite, period,
               periodicity, tuple(float(a) for a in achieved), float(np.hypot(*achieved[:2]) * period), lift,
               joint_speed, bool(passed))


def evaluate(runtime: CmgRuntime, commands: Sequence[Sequence[float]], seconds: float = 60.0,
             max_drift: float = 0.1, hold: StandingHold | None = None) -> tuple[list[Row], np.ndarray]:
    """Rows for every command (run as one batch) and the clamped frames (T + 1, B, 58)."""
    commands = np.asarray(commands, dtype=np.float64).reshape(-1, 3)
    raw, clamped = free_run(runtime, commands, seconds, hold)
    rows = [evaluate_row(runtime, commands[b], raw[:, b], clamped[:, b], max_drift) for b in range(len(commands))]
    return rows, clamped


def markdown_table(rows: Sequence[Row]) -> str:
    """The report table."""
    lines = ["| vx | vy | yaw rate | limit viol. | drift [rad] | period [s] | periodicity | achieved vx, vy [m/s] | "
             "achieved yaw rate [rad/s] | stride [m] | ankle lift [m] | pass |", "|" + "---|" * 12]
    for r in rows:
        lines.append(f"| {r.command[0]:+.2f} | {r.command[1]:+.2f} | {r.command[2]:+.2f} | {r.violation_rate:.1%} | "
                     f"{r.drift:.3f} | {r.period:.2f} | {r.periodicity:.2f} | {r.achieved[0]:+.2f}, "
                     f"{r.achieved[1]:+.2f} | {r.achieved[2]:+.2f} | {r.stride:.2f} | {r.ankle_lift:.3f} | "
                     f"{'yes' if r.passed else 'NO'} |")
    return "\n".join(lines)


def plot(rows: Sequence[Row], clamped: np.ndarray, runtime: CmgRuntime, out: Path) -> list[Path]:
    """Summary plots and ankle-height traces; returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec, fps = runtime.spec, runtime.fps
    forward = [r for r in rows if r.command[1] == 0.0 and r.command[2] == 0.0]
    fig, ax = plt.subplots(2, 2, figsize=(11, 8))
    vx = [r.command[0] for r in forward]
    ax[0, 0].plot(vx, [r.achieved[0] for r in forward], "o", label="achieved (leg odometry)")
    ax[0, 0].plot(vx, vx, "k--", label="commanded")
    ax[0, 0].set(xlabel="commanded vx [m/s]", ylabel="vx [m/s]", title="forward speed")
    ax[0, 0].legend()
    moving = [r for r in forward if r.moving]
    ax[0, 1].plot([r.command[0] for r in moving], [r.period for r in moving], "o")
    ax[0, 1].set(xlabel="commanded vx [m/s]", ylabel="gait period [s]", title="gait period vs speed")
    labels = [f"{r.command[0]:+.1f},{r.command[1]:+.1f},{r.command[2]:+.1f}" for r in rows]
    colors = ["tab:green" if r.passed else "tab:red" for r in rows]
    ax[1, 0].bar(range(len(rows)), [r.drift for r in rows], color=colors)
    ax[1, 0].set(ylabel="drift [rad]", title="pose drift (10-20 s vs last 10 s); red = row fails")
    ax[1, 1].bar(range(len(rows)), [r.periodicity for r in rows], color=colors)
    ax[1, 1].set(ylabel="periodicity", title="gait periodicity (autocorrelation at the period)")
    for a in ax[1]:
        a.set_xticks(range(len(rows)), labels, rotation=90, fontsize=7)
    fig.tight_layout()
    summary = out / "summary.png"
    fig.savefig(summary, dpi=100)
    plt.close(fig)

    n = spec.num_joints
    cols = 4
    fig, axes = plt.subplots((len(rows) + cols - 1) // cols, cols, figsize=(14, 2.2 * ((len(rows) + cols - 1) // cols)),
                             squeeze=False)
    window = int(5 * fps)
    t = np.arange(window) / fps
    for b, (r, a) in enumerate(zip(rows, axes.flat)):
        ankles = ankle_positions(spec, clamped[-window:, b, :n])
        a.plot(t, ankles[:, 0, 2], label="left")
        a.plot(t, ankles[:, 1, 2], label="right")
        a.set_title(labels[b], fontsize=8)
    for a in list(axes.flat)[len(rows):]:
        a.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("ankle height in the root frame [m], last 5 s")
    fig.tight_layout()
    feet = out / "ankle_heights.png"
    fig.savefig(feet, dpi=90)
    plt.close(fig)
    return [summary, feet]


def main(argv: list[str] | None = None) -> None:
    """Command line: ``cmg-eval``."""
    parser = argparse.ArgumentParser(prog="cmg-eval", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="exported CMG (.onnx, cmg-export)")
    parser.add_argument("--out", type=Path, required=True, help="report directory")
    parser.add_argument("--seconds", type=float, default=60.0, help="free-run time per command")
    parser.add_argument("--max-drift", type=float, default=0.1, help="drift bound of a passing row [rad]")
    parser.add_argument("--command", type=float, nargs=3, action="append", metavar=("VX", "VY", "YAW_RATE"),
                        help="evaluate these commands instead of the default grid (repeatable)")
    parser.add_argument("--no-standing-hold", action="store_true",
                        help="the model alone at zero command (the node settles into the standing frame)")
    args = parser.parse_args(argv)
    spec = load_robot_spec()
    try:
        runtime = CmgRuntime(args.model, spec)
    except CmgModelError as exc:
        print(f"cmg-eval: {exc}", file=sys.stderr)
        sys.exit(2)
    commands = grid(runtime, args.command or DEFAULT_GRID)
    hold = StandingHold(enabled=not args.no_standing_hold)
    rows, clamped = evaluate(runtime, commands, args.seconds, args.max_drift, hold)
    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(rows)
    plots = plot(rows, clamped, runtime, args.out)
    passed = sum(r.passed for r in rows)
    (args.out / "report.md").write_text(
        f"# CMG evaluation: {args.model}\n\n{args.seconds:g} s free run per command after {SETTLE_SECONDS:g} s "
        f"standing, standing hold {'on' if hold.enabled else 'off'}; command range "
        f"{runtime.command_min.round(2).tolist()} .. "
        f"{runtime.command_max.round(2).tolist()}.\n\n{table}\n\n{passed}/{len(rows)} rows pass.\n\n"
        + "\n".join(f"![{p.stem}]({p.name})" for p in plots) + "\n")
    (args.out / "report.json").write_text(json.dumps({"model": str(args.model), "seconds": args.seconds,
                                                      "standing_hold": dataclasses.asdict(hold),
                                                      "rows": [dataclasses.asdict(r) for r in rows]}, indent=1))
    print(table)
    print(f"{passed}/{len(rows)} rows pass -> {args.out / 'report.md'}")
    sys.exit(0 if passed == len(rows) else 1)


if __name__ == "__main__":
    main()
