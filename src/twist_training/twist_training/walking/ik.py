"""Whole-body inverse kinematics on the G1 MuJoCo model: damped least squares on MuJoCo Jacobians.

Tasks, stacked with weights: whole-body CoM (x, y), pelvis height, pelvis orientation (level, at the heading
plus the stride's pelvis yaw), both feet (position and orientation: heading and sole pitch), torso upright at the
heading (the waist counter-rotates the pelvis yaw), and a posture term pulling joints to
a target posture (the default pose with arm swing). Each frame starts from the previous solution; joint
positions are clamped to their limits after every iteration.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from twist_core import rotations
from twist_core.model import foot_spheres, joint_dof_addresses, joint_qpos_addresses, load_model
from twist_core.robot import RobotSpec


@dataclasses.dataclass(frozen=True)
class IKWeights:
    """Task weights (relative)."""

    com: float = 10.0
    pelvis_height: float = 10.0
    pelvis_orientation: float = 5.0
    foot_position: float = 100.0
    foot_orientation: float = 100.0
    torso_orientation: float = 2.0
    posture: float = 0.05        # waist and arms
    leg_posture: float = 1e-4    # legs: only a tie-breaker, the feet and the CoM decide
    damping: float = 1e-3
    max_step: float = 0.2        # largest joint change per iteration [rad] (keeps Newton steps local)
    min_knee: float = 0.15       # knees never straighter than this [rad]: the straight knee is a singularity


@dataclasses.dataclass
class IKTargets:
    """Targets of one frame (world frame)."""

    com_xy: np.ndarray                 # (2,)
    pelvis_height: float
    heading: float                     # torso yaw (and the pelvis's, plus ``pelvis_yaw``)
    feet: np.ndarray                   # (2, 5): ankle x, y, z, yaw, sole pitch for left and right
    posture: np.ndarray                # (29,) motor order
    pelvis_yaw: float = 0.0            # pelvis rotation relative to the heading (the waist counter-rotates)


def _orientation_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Rotation vector taking ``current`` to ``target`` (both wxyz), in the world frame."""
    error = np.zeros(3)
    mujoco.mju_subQuat(error, target, current)  # body-frame error of current relative to target
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, current)
    return rot.reshape(3, 3) @ error


def foot_orientation(yaw: float, pitch: float) -> np.ndarray:
    """Quaternion (wxyz) of a foot with heading ``yaw`` and sole pitch ``pitch`` (toe down > 0)."""
    return rotations.multiply(rotations.from_yaw(yaw), np.array([np.cos(pitch / 2), 0.0, np.sin(pitch / 2), 0.0]))


class WholeBodyIK:
    """See the module docstring."""

    def __init__(self, spec: RobotSpec, weights: IKWeights | None = None, iterations: int = 8) -> None:
        """Prepare the model (robot without floor) and the body ids."""
        self.spec = spec
        self.model = load_model(spec, spec.model.robot_entry)
        self.data = mujoco.MjData(self.model)
        self.weights = weights or IKWeights()
        self.iterations = iterations
        self.qadr = joint_qpos_addresses(spec, self.model)
        self.dadr = joint_dof_addresses(spec, self.model)
        self.root = self.model.body(spec.model.root_body).id
        self.torso = self.model.body(spec.model.anchor_body).id
        self.feet = [self.model.body(name).id for name in spec.model.feet]
        self.lower, self.upper = np.array(spec.lower_limits), np.array(spec.upper_limits)
        knees = [i for i, n in enumerate(spec.joint_names) if "knee" in n]
        self.lower[knees] = np.maximum(self.lower[knees], self.weights.min_knee)  # a straight knee is singular
        self.data.qpos[3] = 1.0
        self.data.qpos[self.qadr] = spec.default_pose
        legs = np.array(["hip" in n or "knee" in n or "ankle" in n for n in spec.joint_names])
        self.posture_weights = np.where(legs, self.weights.leg_posture, self.weights.posture)

    def reset(self, qpos: np.ndarray) -> None:
        """Start the next solve from ``qpos`` (free joint + 29 joints, MuJoCo layout)."""
        self.data.qpos[:] = qpos

    def ankle_height(self) -> float:
        """Height of the ankle frame above the sole when the foot is flat (from the model at rest)."""
        data = mujoco.MjData(self.model)
        data.qpos[3] = 1.0
        data.qpos[self.qadr] = self.spec.default_pose
        mujoco.mj_kinematics(self.model, data)
        spheres = foot_spheres(self.spec, self.model)[0]
        lowest = np.min(data.geom_xpos[spheres, 2] - self.model.geom_size[spheres, 0])
        return float(data.xpos[self.feet[0]][2] - lowest)

    def solve(self, targets: IKTargets) -> np.ndarray:
        """qpos reaching the targets as well as possible (starting from the current solution)."""
        m, d, w = self.model, self.data, self.weights
        nv = m.nv
        jacp = np.zeros((3, nv))
        jacr = np.zeros((3, nv))
        level = rotations.from_yaw(targets.heading)
        pelvis = rotations.from_yaw(targets.heading + targets.pelvis_yaw)
        for _ in range(self.iterations):
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            rows, errors, weights = [], [], []

            mujoco.mj_jacSubtreeCom(m, d, jacp, self.root)
            rows.append(jacp[:2].copy())
            errors.append(targets.com_xy - d.subtree_com[self.root][:2])
            weights += [w.com] * 2

            mujoco.mj_jacBody(m, d, jacp, jacr, self.root)
            rows += [jacp[2:3].copy(), jacr.copy()]
            errors += [[targets.pelvis_height - d.xpos[self.root][2]], _orientation_error(pelvis, d.xquat[self.root])]
            weights += [w.pelvis_height] + [w.pelvis_orientation] * 3

            for foot, goal in zip(self.feet, targets.feet):
                mujoco.mj_jacBody(m, d, jacp, jacr, foot)
                rows += [jacp.copy(), jacr.copy()]
                orientation = foot_orientation(goal[3], goal[4])
                errors += [goal[:3] - d.xpos[foot], _orientation_error(orientation, d.xquat[foot])]
                weights += [w.foot_position] * 3 + [w.foot_orientation] * 3

            mujoco.mj_jacBody(m, d, jacp, jacr, self.torso)
            rows.append(jacr.copy())
            errors.append(_orientation_error(level, d.xquat[self.torso]))
            weights += [w.torso_orientation] * 3

            posture_rows = np.zeros((self.spec.num_joints, nv))
            posture_rows[np.arange(self.spec.num_joints), self.dadr] = 1.0
            rows.append(posture_rows)
            errors.append(targets.posture - d.qpos[self.qadr])
            weights += list(self.posture_weights)

            J = np.vstack(rows)
            e = np.concatenate([np.ravel(x) for x in errors])
            W = np.asarray(weights)
            H = J.T @ (W[:, None] * J) + w.damping * np.eye(nv)
            dq = np.linalg.solve(H, J.T @ (W * e))
            largest = np.abs(dq).max()
            if largest > w.max_step:
                dq *= w.max_step / largest
            mujoco.mj_integratePos(m, d.qpos, dq, 1.0)
            d.qpos[self.qadr] = np.clip(d.qpos[self.qadr], self.lower, self.upper)
        return d.qpos.copy()
