"""Quality of a generated walk, measured on the motion itself (not on the plan).

* stance-foot slip: the largest horizontal drift of a touching collision sphere of a foot during any of the foot's
  planned stance intervals (a sphere touches when its bottom is within ``contact_height`` of the floor; a foot
  rolling on its toe or heel edge touches with that edge only, and the rolling spheres turn about their centres);
* ZMP inside the support polygon: the ZMP of the contact wrench that MuJoCo inverse dynamics needs to produce
  the kinematic motion (free-floating base, gravity), checked against the convex hull of the touching collision
  spheres of the stance feet (a segment when a single foot stands on one edge);
* velocity: over every window of constant command, the drift of the whole-body CoM away from the commanded
  (acceleration-limited) body path, in the path's heading frame, per second over whole gait cycles inside the
  window (so the sway of walking cancels), relative to the commanded speed or to 0.2 m/s for slower commands
  (turning in place); a window starts 1 s after the acceleration-limited body has reached the
  new command; standing windows (every axis within the gait's standing threshold) are judged by slip and ZMP
  only; the heading (of the pelvis, which yaws with the stride) likewise;
* joint limits and foot penetration (the lowest point of a foot collision sphere below the floor).
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np
from scipy.spatial import ConvexHull

from twist_core.model import foot_spheres, load_model, motion_qpos
from twist_core.motion import Motion, joint_limit_report
from twist_core.robot import RobotSpec
from twist_training.walking.gait import GaitConfig, GaitPlan


def generalized_derivatives(model: mujoco.MjModel, qpos: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """qvel and qacc (T, nv) of a qpos trajectory by central differences in MuJoCo's tangent space."""
    dt = 1.0 / fps
    half = np.empty((len(qpos) - 1, model.nv))  # velocity between frames k and k+1
    for k in range(len(qpos) - 1):
        mujoco.mj_differentiatePos(model, half[k], dt, qpos[k], qpos[k + 1])
    qvel = np.empty((len(qpos), model.nv))
    qvel[1:-1] = 0.5 * (half[:-1] + half[1:])
    qvel[0], qvel[-1] = half[0], half[-1]
    qacc = np.zeros_like(qvel)
    qacc[1:-1] = (half[1:] - half[:-1]) / dt
    return qvel, qacc


@dataclasses.dataclass(frozen=True)
class QualityTargets:
    """Pass/fail thresholds of a clip."""

    max_slip: float = 0.005            # m
    min_zmp_inside: float = 0.95       # fraction of frames
    max_velocity_error: float = 0.05   # relative displacement error over constant-command windows
    max_penetration: float = 0.001     # m
    zmp_margin: float = 0.005          # m of tolerance around the support polygon
    contact_height: float = 0.001      # m: a stance foot's sphere touches the floor when its bottom is this low


@dataclasses.dataclass
class ClipQuality:
    """Measured quality of one clip."""

    slip: float
    zmp_inside: float
    velocity_error: float
    velocity_windows: int    # constant-command walking windows the velocity error was measured on
    heading_error: float
    joint_limit_violations: int
    penetration: float

    def failures(self, targets: QualityTargets) -> list[str]:
        """The targets this clip misses (empty when it passes)."""
        out = []
        if self.slip > targets.max_slip:
            out.append(f"stance slip {self.slip * 1e3:.1f} mm > {targets.max_slip * 1e3:.0f} mm")
        if self.zmp_inside < targets.min_zmp_inside:
            out.append(f"ZMP inside the support polygon in {self.zmp_inside:.1%} of frames")
        if self.velocity_error > targets.max_velocity_error:
            out.append(f"velocity error {self.velocity_error:.1%}")
        if self.joint_limit_violations:
            out.append(f"{self.joint_limit_violations} joint(s) beyond limits")
        if self.penetration > targets.max_penetration:
            out.append(f"foot penetration {self.penetration * 1e3:.1f} mm")
        return out


def support_distance(support: np.ndarray, point: np.ndarray) -> float:
    """How far ``point`` lies outside the convex hull of the contact points ``support`` (N, 2); <= 0 inside.

    Collinear contacts (one foot on one edge) make a segment, a single contact a point; none is infinitely far.
    """
    if len(support) == 0:
        return float("inf")
    centred = support - support.mean(axis=0)
    if len(support) >= 3 and np.linalg.matrix_rank(centred, tol=1e-6) == 2:
        hull = ConvexHull(support)
        # hull.equations: n . x + b <= 0 inside
        return float(np.max(hull.equations[:, :2] @ point + hull.equations[:, 2]))
    # a segment (or a point): the distance to it, along its principal direction between its extreme points
    direction = np.linalg.svd(centred)[2][0] if len(support) > 1 else np.zeros(2)
    along = centred @ direction
    a, b = support[np.argmin(along)], support[np.argmax(along)]
    span = b - a
    s = float(np.clip((point - a) @ span / (span @ span), 0.0, 1.0)) if span @ span > 0 else 0.0
    return float(np.linalg.norm(point - (a + s * span)))


class QualityMeter:
    """Computes :class:`ClipQuality`; holds the model so that many clips reuse it."""

    def __init__(self, spec: RobotSpec, targets: QualityTargets | None = None,
                 gait: GaitConfig | None = None) -> None:
        """Load the robot model (no floor: contact forces are what inverse dynamics asks for).

        ``gait`` is the configuration the walks were generated with (standing threshold, accelerations).
        """
        self.spec, self.targets, self.gait = spec, targets or QualityTargets(), gait or GaitConfig()
        self.model = load_model(spec, spec.model.robot_entry)
        self.data = mujoco.MjData(self.model)
        self.root = self.model.body(spec.model.root_body).id
        self.spheres = foot_spheres(spec, self.model)

    def _qpos(self, motion: Motion) -> np.ndarray:
        return motion_qpos(self.spec, self.model, motion.root_pos, motion.root_quat, motion.joint_pos)

    def measure(self, motion: Motion, plan: GaitPlan) -> ClipQuality:
        """All metrics of one clip."""
        qpos = self._qpos(motion)
        sphere_points, com = self._feet(qpos)
        touching = plan.stance[:, :, None] & (sphere_points[..., 2] <= self.targets.contact_height)
        velocity_error, velocity_windows = self._velocity_error(com, motion, plan)
        return ClipQuality(
            slip=self._slip(sphere_points, touching, plan.stance),
            zmp_inside=self._zmp_inside(qpos, motion.fps, sphere_points, touching),
            velocity_error=velocity_error,
            velocity_windows=velocity_windows,
            heading_error=self._heading_error(motion, plan),
            joint_limit_violations=len(joint_limit_report(motion, self.spec)),
            penetration=float(max(0.0, -sphere_points[..., 2].min())),
        )

    def _feet(self, qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sphere bottom points (T, 2, S, 3) and the whole-body CoM (T, 3)."""
        m, d = self.model, self.data
        points = np.empty((len(qpos), 2, len(self.spheres[0]), 3))
        com = np.empty((len(qpos), 3))
        for k, q in enumerate(qpos):
            d.qpos[:] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            com[k] = d.subtree_com[self.root]
            for f in range(2):
                points[k, f] = d.geom_xpos[self.spheres[f]] - np.array([0, 0, 1.0]) * m.geom_size[self.spheres[f], :1]
        return points, com

    @staticmethod
    def _slip(points: np.ndarray, touching: np.ndarray, stance: np.ndarray) -> float:
        """Largest drift of a touching sphere from where it first touched in its foot's stance interval."""
        worst = 0.0
        for f in range(2):
            k = 0
            while k < len(stance):
                if not stance[k, f]:
                    k += 1
                    continue
                end = k
                while end < len(stance) and stance[end, f]:
                    end += 1
                for sphere in range(points.shape[2]):
                    frames = k + np.flatnonzero(touching[k:end, f, sphere])
                    if len(frames):
                        xy = points[frames, f, sphere, :2]
                        worst = max(worst, float(np.linalg.norm(xy - xy[0], axis=1).max()))
                k = end
        return worst

    def zmp(self, qpos: np.ndarray, fps: float) -> np.ndarray:
        """ZMP (T, 2) of the contact wrench inverse dynamics requires (first and last frames repeated)."""
        m, d = self.model, self.data
        n = len(qpos)
        qvel, qacc = generalized_derivatives(m, qpos, fps)
        zmp = np.empty((n, 2))
        for k in range(1, n - 1):
            d.qpos[:], d.qvel[:], d.qacc[:] = qpos[k], qvel[k], qacc[k]
            mujoco.mj_inverse(m, d)
            force = d.qfrc_inverse[:3]
            torque = d.xmat[self.root].reshape(3, 3) @ d.qfrc_inverse[3:6]  # free joint: torque in the body frame
            p = d.xpos[self.root]
            zmp[k] = [p[0] - (torque[1] + p[2] * force[0]) / force[2],
                      p[1] + (torque[0] - p[2] * force[1]) / force[2]]
        zmp[0], zmp[-1] = zmp[1], zmp[-2]
        return zmp

    def _zmp_inside(self, qpos: np.ndarray, fps: float, points: np.ndarray, touching: np.ndarray) -> float:
        zmp = self.zmp(qpos, fps)
        inside = [support_distance(points[k][touching[k]][:, :2], zmp[k]) <= self.targets.zmp_margin
                  for k in range(1, len(qpos) - 1)]
        return float(np.mean(inside))

    def _constant_windows(self, command: np.ndarray, fps: float, settle: float = 1.0, lead: float = 0.5,
                          min_length: float = 2.0) -> list[tuple[int, int]]:
        """Index ranges of constant command.

        Left out after each change: the time the acceleration-limited body needs to reach the new command, then
        ``settle`` seconds; before each change: ``lead`` seconds, in which the preview controller already moves
        the CoM towards the next command. Windows are at least ``min_length`` long.
        """
        changes = np.flatnonzero(np.any(np.abs(np.diff(command, axis=0)) > 1e-9, axis=1)) + 1
        bounds = [0, *changes.tolist(), len(command)]
        limits = self.gait.acceleration_limits
        windows = []
        for start, end in zip(bounds[:-1], bounds[1:]):
            before = command[start - 1] if start > 0 else command[start]
            reach = float(np.max(np.abs(command[start] - before) / limits))
            start += int(round((reach + settle) * fps))
            if end < len(command):
                end -= int(round(lead * fps))
            if end - start >= min_length * fps:
                windows.append((start, end - 1))
        return windows

    def _velocity_error(self, com: np.ndarray, motion: Motion, plan: GaitPlan) -> tuple[float, int]:
        worst, windows = 0.0, 0

        def heading_frame(velocity: np.ndarray, yaw: np.ndarray) -> np.ndarray:
            c, s = np.cos(yaw), np.sin(yaw)
            return np.column_stack([c * velocity[:, 0] + s * velocity[:, 1], -s * velocity[:, 0] + c * velocity[:, 1]])

        yaw = plan.body[:, 2]
        body_vel = heading_frame(np.gradient(plan.body[:, :2], 1 / motion.fps, axis=0), yaw)
        # the CoM relative to the commanded body path, in the body's heading frame: periodic when the walk goes
        # where it is commanded, so its drift over whole gait cycles is the velocity error (for straight walks
        # this equals the difference of the mean velocities; on curves the sway does not leak into it)
        relative = heading_frame(com[:, :2] - plan.body[:, :2], yaw)
        for start, end in self._constant_windows(motion.command, motion.fps):
            start, end = self._whole_cycles(plan, start, end)
            if self.gait.is_standing(motion.command[start]):
                continue  # standing: the CoM settles and anticipates the next start; slip and ZMP judge it
            drift = (relative[end] - relative[start]) * motion.fps / (end - start)
            scale = max(float(np.linalg.norm(body_vel[start:end + 1].mean(axis=0))), 0.2)
            worst = max(worst, float(np.linalg.norm(drift)) / scale)
            windows += 1
        return worst, windows

    @staticmethod
    def _whole_cycles(plan: GaitPlan, start: int, end: int) -> tuple[int, int]:
        """The window shrunk to whole gait cycles, between two landings of the same foot.

        The periodic sway of the CoM then cancels; the window is unchanged when no whole cycle lies inside.
        """
        landings = [(int(round(s.land * plan.fps)), s.foot) for s in plan.steps]
        inside = [(k, f) for k, f in landings if start <= k <= end]
        if not inside:
            return start, end
        first, foot = inside[0]
        same = [k for k, f in inside if f == foot and k > first]
        return (first, same[-1]) if same else (start, end)

    def _heading_error(self, motion: Motion, plan: GaitPlan) -> float:
        from twist_core.rotations import yaw

        worst = 0.0
        headings = np.unwrap(yaw(motion.root_quat))
        for start, end in self._constant_windows(motion.command, motion.fps):
            start, end = self._whole_cycles(plan, start, end)  # the pelvis yaws with the stride
            commanded = plan.body[end, 2] - plan.body[start, 2]
            achieved = headings[end] - headings[start]
            worst = max(worst, abs(achieved - commanded) / ((end - start) / motion.fps))
        return float(worst)
