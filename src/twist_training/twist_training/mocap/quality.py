"""Quality of a motion-capture clip for the G1, measured on the robot model, and the fixes that can be automatic.

Per frame, by MuJoCo kinematics and collision detection on the G1 model with its floor (``twist_core.model``):

* **floor penetration**: the deepest contact of any robot geom with the floor (feet, but also knees or hands);
* **floating**: both feet higher than ``float_height`` above the floor; a stretch longer than ``float_seconds``
  is infeasible (the tracker cannot follow a body that hangs in the air; a jump's flight phase is shorter);
* **joint-limit excess**: how far each joint is beyond the model's range;
* **self-penetration**: the deepest contact between two robot geoms (arms through the torso, legs crossing);
* **foot slip**: the horizontal speed of a foot's sole (the centre of its collision spheres) while the foot is on
  the floor (its lowest point within ``contact_height``), the retarget's foot skating;
* **joint speed**: the fastest joint; beyond ``max_joint_speed`` the robot's motors cannot follow (a retarget
  glitch, a joint flipping by 2 pi, or a move too fast for the G1).

Fixes (:func:`repair`): **flat stance feet** (a retarget leaves the soles of standing feet tilted a few degrees,
mostly toe down: a robot whose soles lie flat and whose other joints follow such a reference leans by that much
and falls; the ankle pitch and roll of a foot on the floor with its sole nearly flat are set so that the sole is
level, and the correction is interpolated through the frames between, so the ankles stay smooth; soles tilted
more than ``max_level_tilt`` are left alone: a foot rolled on purpose), a constant
**height offset** so that the feet stand on the floor (the retargeter's pelvis height is off by a few
centimetres: the ground is the lower 10th percentile of the lowest foot point), and **clamping** joints that are
beyond their range by at most ``clamp_limit``. What remains infeasible (deeper
floor or self-penetration, larger limit excess, motors too slow, long floating) marks frames; the marked stretches
(widened by ``margin`` seconds) are **cut**, and pieces shorter than ``min_piece_seconds`` are dropped. A clip
that keeps less than ``min_kept_fraction`` of its length is excluded. Every decision is written down in the
clip's :class:`ClipReport`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import mujoco
import numpy as np

from twist_core.model import foot_spheres, joint_qpos_addresses, load_model
from twist_core.motion import Motion, build_motion
from twist_core.robot import RobotSpec


@dataclasses.dataclass(frozen=True)
class QualityLimits:
    """Thresholds of the checks and fixes (metres, radians, seconds)."""

    max_floor_penetration: float = 0.03    # deeper (after the height fix) is infeasible
    max_self_penetration: float = 0.05    # the arm geoms' convex hulls graze the torso's in many poses
    clamp_limit: float = 0.1               # joints beyond their range by up to this are clamped, further is cut
    max_joint_speed: float = 25.0          # rad/s: the G1's joint motors reach about 20-37 rad/s unloaded
    float_height: float = 0.05             # both feet above this: in the air
    float_seconds: float = 0.25            # longer in the air is infeasible
    contact_height: float = 0.02           # a foot whose lowest point is within this of the floor is on it
    slip_speed: float = 0.1                # m/s: a foot on the floor moving faster than this slips
    ground_percentile: float = 10.0        # of the per-frame lowest foot point: where the floor is
    flat_spread: float = 0.04              # a foot on the floor whose sole points differ less in height is levelled,
    max_level_tilt: float = 0.2            # rad, unless its sole is tilted more (a foot rolled on purpose)
    margin: float = 0.25                   # s around infeasible frames that is cut too
    min_piece_seconds: float = 3.0
    min_kept_fraction: float = 0.5


@dataclasses.dataclass
class FrameMeasures:
    """Per-frame measurements of a motion (T frames)."""

    floor_penetration: np.ndarray   # (T,) m, >= 0
    self_penetration: np.ndarray    # (T,) m, >= 0
    self_pair: list[str]            # (T,) the deepest self-contact's bodies, "" if none
    foot_height: np.ndarray         # (T, 2) lowest point of each foot above the floor, m
    foot_speed: np.ndarray          # (T, 2) horizontal speed of each foot's sole centre, m/s
    limit_excess: np.ndarray        # (T, J) rad beyond the range, >= 0
    joint_speed: np.ndarray         # (T, J) |rad/s|


@dataclasses.dataclass
class ClipReport:
    """What was measured on a clip, what was fixed and what was cut (JSON-serializable through :meth:`as_dict`)."""

    name: str
    seconds: float
    flattened_frames: int = 0
    foot_tilt_median: float = 0.0   # rad, of the stance feet before flattening
    foot_tilt_max: float = 0.0
    height_offset: float = 0.0
    clamped_frames: int = 0
    clamped_joints: list[str] = dataclasses.field(default_factory=list)
    floor_penetration: float = 0.0
    self_penetration: float = 0.0
    self_penetration_pair: str = ""
    floating_seconds: float = 0.0
    longest_float: float = 0.0
    limit_excess: float = 0.0
    limit_excess_joint: str = ""
    slip_p95: float = 0.0
    slip_fraction: float = 0.0
    peak_joint_speed: float = 0.0
    peak_joint: str = ""
    cut: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    pieces: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    kept_seconds: float = 0.0
    excluded: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON types (floats rounded for reading)."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, float):
                out[key] = round(value, 4)
        out["pieces"] = [[round(a, 2), round(b, 2)] for a, b in self.pieces]
        return out


class ClipMeter:
    """Measures motions on the G1 model with its floor (one compiled model, reused for every clip)."""

    def __init__(self, spec: RobotSpec) -> None:
        """Compile the scene (robot + floor) and find the feet, the floor and the robot's geoms."""
        self.spec = spec
        self.model = load_model(spec, spec.model.scene_entry)
        self.data = mujoco.MjData(self.model)
        self.qadr = joint_qpos_addresses(spec, self.model)
        self.feet = foot_spheres(spec, self.model)
        self.floor_body = 0
        parent = self.model.body_parentid
        self.knees = [int(parent[parent[self.model.body(f).id]]) for f in spec.model.feet]  # foot <- pitch <- knee
        self.ankles = [(spec.joint_index(f.replace("ankle_roll_link", "ankle_pitch_joint")),
                        spec.joint_index(f.replace("ankle_roll_link", "ankle_roll_joint"))) for f in spec.model.feet]

    def _body(self, geom: int) -> str:
        return mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_BODY, int(self.model.geom_bodyid[geom])) or ""

    def measure(self, motion: Motion) -> FrameMeasures:
        """Every per-frame measurement of ``motion``."""
        m, d, spec = self.model, self.data, self.spec
        n = motion.num_frames
        floor = np.zeros(n)
        self_depth = np.zeros(n)
        pairs = [""] * n
        feet = np.zeros((n, 2))
        soles = np.zeros((n, 2, 3))
        for t in range(n):
            d.qpos[:3], d.qpos[3:7], d.qpos[self.qadr] = motion.root_pos[t], motion.root_quat[t], motion.joint_pos[t]
            mujoco.mj_kinematics(m, d)
            mujoco.mj_collision(m, d)
            for c in d.contact[:d.ncon]:
                depth = -float(c.dist)
                if depth <= 0:
                    continue
                on_floor = self.floor_body in (m.geom_bodyid[c.geom1], m.geom_bodyid[c.geom2])
                if on_floor:
                    floor[t] = max(floor[t], depth)
                elif depth > self_depth[t]:
                    self_depth[t] = depth
                    pairs[t] = f"{self._body(c.geom1)}/{self._body(c.geom2)}"
            for f, spheres in enumerate(self.feet):
                feet[t, f] = np.min(d.geom_xpos[spheres, 2] - m.geom_size[spheres, 0])
                soles[t, f] = d.geom_xpos[spheres].mean(axis=0)
        speed = np.linalg.norm(np.gradient(soles[..., :2], 1.0 / motion.fps, axis=0), axis=-1)
        lower, upper = spec.lower_limits, spec.upper_limits
        excess = np.maximum(np.maximum(lower - motion.joint_pos, motion.joint_pos - upper), 0.0)
        return FrameMeasures(floor, self_depth, pairs, feet, speed, excess, np.abs(motion.joint_vel))

    def flat_ankles(self, motion: Motion, limits: QualityLimits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Joint positions with level stance soles, the frames flattened (T, 2) and the stance tilts [rad].

        The ankle pitch (y) then roll (x) joints turn the foot relative to the knee: the sole is level when the
        world's up axis, expressed in the knee frame (u), equals R_y(pitch) R_x(roll) e_z, i.e. roll = -asin(u_y),
        pitch = atan2(u_x, u_z).
        """
        m, d = self.model, self.data
        n = motion.num_frames
        corrections = np.full((n, 2, 2), np.nan)
        tilts = []
        for t in range(n):
            d.qpos[:3], d.qpos[3:7], d.qpos[self.qadr] = motion.root_pos[t], motion.root_quat[t], motion.joint_pos[t]
            mujoco.mj_kinematics(m, d)
            for f, spheres in enumerate(self.feet):
                bottoms = d.geom_xpos[spheres, 2] - m.geom_size[spheres, 0]
                if bottoms.min() >= limits.contact_height or np.ptp(bottoms) >= limits.flat_spread:
                    continue
                foot_up = d.xmat[m.body(self.spec.model.feet[f]).id].reshape(3, 3)[:, 2]
                tilt = float(np.arccos(np.clip(foot_up[2], -1.0, 1.0)))
                if tilt > limits.max_level_tilt:
                    continue
                up = d.xmat[self.knees[f]].reshape(3, 3).T @ np.array([0.0, 0.0, 1.0])
                target = np.array([np.arctan2(up[0], up[2]), -np.arcsin(np.clip(up[1], -1.0, 1.0))])
                corrections[t, f] = target - motion.joint_pos[t, list(self.ankles[f])]
                tilts.append(tilt)
        joint_pos = motion.joint_pos.copy()
        frames = np.arange(n)
        for f, joints in enumerate(self.ankles):
            known = ~np.isnan(corrections[:, f, 0])
            if not known.any():
                continue
            for k, joint in enumerate(joints):  # between stance frames the correction is interpolated
                delta = np.interp(frames, frames[known], corrections[known, f, k])
                joint_pos[:, joint] = np.clip(joint_pos[:, joint] + delta, self.spec.lower_limits[joint],
                                              self.spec.upper_limits[joint])
        return joint_pos, ~np.isnan(corrections[..., 0]), np.array(tilts)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs (end exclusive) of the True stretches of a boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def summarize(report: ClipReport, measures: FrameMeasures, fps: float, limits: QualityLimits,
              spec: RobotSpec) -> None:
    """Fill the measured fields of ``report`` from the per-frame measures."""
    report.floor_penetration = float(measures.floor_penetration.max(initial=0.0))
    worst = int(np.argmax(measures.self_penetration))
    report.self_penetration = float(measures.self_penetration[worst])
    report.self_penetration_pair = measures.self_pair[worst]
    airborne = np.all(measures.foot_height > limits.float_height, axis=1)
    runs = _runs(airborne)
    report.floating_seconds = float(airborne.sum() / fps)
    report.longest_float = max((b - a for a, b in runs), default=0) / fps
    joint = int(np.argmax(measures.limit_excess.max(axis=0)))
    report.limit_excess = float(measures.limit_excess[:, joint].max())
    report.limit_excess_joint = spec.joint_names[joint] if report.limit_excess > 0 else ""
    contact = measures.foot_height < limits.contact_height
    slips = measures.foot_speed[contact]
    report.slip_p95 = float(np.percentile(slips, 95)) if len(slips) else 0.0
    report.slip_fraction = float(np.mean(slips > limits.slip_speed)) if len(slips) else 0.0
    joint = int(np.argmax(measures.joint_speed.max(axis=0)))
    report.peak_joint_speed = float(measures.joint_speed[:, joint].max())
    report.peak_joint = spec.joint_names[joint]


def infeasible_frames(measures: FrameMeasures, fps: float, limits: QualityLimits,
                      spec: RobotSpec) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Frames the robot cannot follow, and one record per reason and stretch (seconds, reason, worst value)."""
    reasons = {
        "floor penetration": (measures.floor_penetration > limits.max_floor_penetration, measures.floor_penetration,
                              "m"),
        "self-penetration": (measures.self_penetration > limits.max_self_penetration, measures.self_penetration,
                             "m"),
        "joint beyond its range": (measures.limit_excess.max(axis=1) > limits.clamp_limit,
                                   measures.limit_excess.max(axis=1), "rad"),
        "joint faster than the motors": (measures.joint_speed.max(axis=1) > limits.max_joint_speed,
                                         measures.joint_speed.max(axis=1), "rad/s"),
    }
    airborne = np.all(measures.foot_height > limits.float_height, axis=1)
    floating = np.zeros_like(airborne)
    for a, b in _runs(airborne):
        if (b - a) / fps > limits.float_seconds:
            floating[a:b] = True
    reasons["floating (both feet off the floor)"] = (floating, measures.foot_height.min(axis=1), "m")
    bad = np.zeros(len(airborne), dtype=bool)
    records = []
    for reason, (mask, value, unit) in reasons.items():
        bad |= mask
        for a, b in _runs(mask):
            records.append({"from_s": round(a / fps, 2), "to_s": round(b / fps, 2), "reason": reason,
                            "worst": round(float(value[a:b].max()), 4), "unit": unit})
    return bad, sorted(records, key=lambda r: r["from_s"])


def kept_pieces(bad: np.ndarray, fps: float, limits: QualityLimits) -> list[tuple[int, int]]:
    """(start, end) frame ranges left after cutting the bad frames (widened by the margin), long enough to keep."""
    widen = int(round(limits.margin * fps))
    cut = bad.copy()
    for a, b in _runs(bad):
        cut[max(0, a - widen):b + widen] = True
    minimum = int(round(limits.min_piece_seconds * fps))
    return [(a, b) for a, b in _runs(~cut) if b - a >= minimum]


def repair(motion: Motion, spec: RobotSpec, meter: ClipMeter, limits: QualityLimits,
           name: str) -> tuple[list[Motion], ClipReport]:
    """The feasible pieces of ``motion`` after the automatic fixes, with the report of what was done.

    An excluded clip returns no pieces and says why in ``report.excluded``.
    """
    report = ClipReport(name=name, seconds=motion.duration)
    flat, flattened, tilts = meter.flat_ankles(motion, limits)
    report.flattened_frames = int(flattened.any(axis=1).sum())
    if len(tilts):
        report.foot_tilt_median, report.foot_tilt_max = float(np.median(tilts)), float(tilts.max())
    motion = build_motion(spec, motion.fps, motion.root_pos, motion.root_quat, flat, command=motion.command,
                          metadata=dict(motion.metadata, flattened_frames=report.flattened_frames))
    first = meter.measure(motion)
    ground = float(np.percentile(first.foot_height.min(axis=1), limits.ground_percentile))
    report.height_offset = -ground
    lower, upper = spec.lower_limits, spec.upper_limits
    tiny = (first.limit_excess > 0) & (first.limit_excess <= limits.clamp_limit)
    report.clamped_frames = int(tiny.any(axis=1).sum())
    report.clamped_joints = [spec.joint_names[j] for j in np.flatnonzero(tiny.any(axis=0))]
    joint_pos = np.where(tiny, np.clip(motion.joint_pos, lower, upper), motion.joint_pos)
    root_pos = motion.root_pos.copy()
    root_pos[:, 2] -= ground
    fixed = build_motion(spec, motion.fps, root_pos, motion.root_quat, joint_pos, command=motion.command,
                         metadata=dict(motion.metadata, height_offset=report.height_offset,
                                       clamped_frames=report.clamped_frames))
    measures = meter.measure(fixed)
    summarize(report, measures, fixed.fps, limits, spec)
    bad, report.cut = infeasible_frames(measures, fixed.fps, limits, spec)
    pieces = kept_pieces(bad, fixed.fps, limits)
    report.pieces = [(a / fixed.fps, (b - 1) / fixed.fps) for a, b in pieces]
    report.kept_seconds = float(sum((b - a - 1) / fixed.fps for a, b in pieces))
    if not pieces or report.kept_seconds < limits.min_kept_fraction * report.seconds:
        report.excluded = (f"only {report.kept_seconds:.1f} s of {report.seconds:.1f} s is feasible"
                           if pieces else "no feasible piece of at least "
                           f"{limits.min_piece_seconds:g} s")
        return [], report
    out = []
    for i, (a, b) in enumerate(pieces):
        piece_meta = dict(fixed.metadata, piece=i, piece_start_s=round(a / fixed.fps, 3))
        out.append(build_motion(spec, fixed.fps, fixed.root_pos[a:b], fixed.root_quat[a:b], fixed.joint_pos[a:b],
                                fixed.joint_vel[a:b], None if fixed.command is None else fixed.command[a:b],
                                piece_meta))
    return out, report
