"""The MuJoCo model of the robot: where it comes from, and whether it agrees with the spec.

The model comes from the ``mujoco-menagerie`` package: it downloads and caches the model on first
use, or reads a local copy laid out the same way when ``MENAGERIE_ROOT`` is set (CI points it at
``shared/menagerie``). ``TWIST_G1_MODEL_DIR`` overrides both with a directory holding the entry
XML files, for users with their own copy of the model.

MuJoCo is imported lazily so that importing :mod:`twist_core` stays cheap.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from twist_core.robot import RobotSpec, RobotSpecError

if TYPE_CHECKING:
    import mujoco

MODEL_DIR_ENV = "TWIST_G1_MODEL_DIR"
LIMIT_TOLERANCE = 1e-4


def model_dir(spec: RobotSpec) -> Path:
    """The directory holding the robot's MJCF files (downloaded by mujoco-menagerie if needed)."""
    override = os.environ.get(MODEL_DIR_ENV)
    if override:
        path = Path(override)
        if not path.is_dir():
            raise RobotSpecError(f"{MODEL_DIR_ENV}={override} is not a directory")
        return path
    import mujoco_menagerie

    try:
        return Path(mujoco_menagerie.get(spec.model.menagerie_robot).path())
    except mujoco_menagerie.MenagerieError as exc:
        raise RobotSpecError(f"cannot obtain the {spec.model.menagerie_robot!r} model from mujoco-menagerie "
                             f"(set MENAGERIE_ROOT to a local copy when offline): {exc}") from exc


def model_xml(spec: RobotSpec, entry: str | None = None) -> Path:
    """Path of an entry-point XML (default: the scene with a floor)."""
    import mujoco_menagerie

    entry = entry or spec.model.scene_entry
    robot = mujoco_menagerie.get(spec.model.menagerie_robot)
    path = model_dir(spec) / robot.entry(entry).file
    if not path.is_file():
        raise RobotSpecError(f"model file {path} does not exist")
    return path


@lru_cache(maxsize=8)
def _compile(path: str) -> "mujoco.MjModel":
    import mujoco

    return mujoco.MjModel.from_xml_path(path)


def load_model(spec: RobotSpec, entry: str | None = None) -> "mujoco.MjModel":
    """Compile an entry point of the robot model. Callers that modify the model must copy it."""
    return _compile(str(model_xml(spec, entry)))


def _names(model: "mujoco.MjModel", obj: int, count: int) -> list[str]:
    import mujoco

    return [mujoco.mj_id2name(model, obj, i) for i in range(count)]


def hinge_joint_names(model: "mujoco.MjModel") -> list[str]:
    """Names of the model's hinge joints in qpos order."""
    import mujoco

    return [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, i)
            for i in range(model.njnt) if model.jnt_type[i] == mujoco.mjtJoint.mjJNT_HINGE]


def joint_qpos_addresses(spec: RobotSpec, model: "mujoco.MjModel") -> np.ndarray:
    """qpos address of each spec joint, in motor order."""
    return np.array([model.jnt_qposadr[model.joint(n).id] for n in spec.joint_names], dtype=np.int64)


def joint_dof_addresses(spec: RobotSpec, model: "mujoco.MjModel") -> np.ndarray:
    """qvel/qfrc address of each spec joint, in motor order."""
    return np.array([model.jnt_dofadr[model.joint(n).id] for n in spec.joint_names], dtype=np.int64)


def spec_model_mismatches(spec: RobotSpec, model: "mujoco.MjModel") -> list[str]:
    """Every disagreement between the spec and the model, as readable lines (empty if none)."""
    import mujoco

    problems: list[str] = []
    hinges = hinge_joint_names(model)
    missing = [n for n in spec.joint_names if n not in hinges]
    extra = [n for n in hinges if n not in spec.joint_names]
    if missing:
        problems.append(f"joints in the config but not in the model: {missing}")
    if extra:
        problems.append(f"hinge joints in the model but not in the config: {extra}")
    for joint in spec.joints:
        if joint.name in missing:
            continue
        jid = model.joint(joint.name).id
        if model.jnt_limited[jid]:
            lower, upper = model.jnt_range[jid]
            if abs(lower - joint.lower) > LIMIT_TOLERANCE or abs(upper - joint.upper) > LIMIT_TOLERANCE:
                problems.append(f"{joint.name}: config range [{joint.lower}, {joint.upper}] != "
                                f"model range [{lower:.6g}, {upper:.6g}]")
        else:
            problems.append(f"{joint.name}: the model joint has no position limits")
        if model.jnt_actfrclimited[jid]:
            effort = float(np.max(np.abs(model.jnt_actfrcrange[jid])))
            if abs(effort - joint.effort) > LIMIT_TOLERANCE:
                problems.append(f"{joint.name}: config effort {joint.effort} != model effort limit {effort:.6g}")
    bodies = set(_names(model, mujoco.mjtObj.mjOBJ_BODY, model.nbody))
    wanted_bodies = {spec.model.root_body, spec.model.anchor_body, *spec.model.feet,
                     *(k.body for k in spec.key_bodies)}
    for body in sorted(wanted_bodies - bodies):
        problems.append(f"body {body!r} named in the config is not in the model")
    if spec.model.imu_site not in _names(model, mujoco.mjtObj.mjOBJ_SITE, model.nsite):
        problems.append(f"IMU site {spec.model.imu_site!r} is not in the model")
    return problems


def check_spec_against_model(spec: RobotSpec, model: "mujoco.MjModel") -> None:
    """Raise :class:`RobotSpecError` listing every spec/model disagreement."""
    problems = spec_model_mismatches(spec, model)
    if problems:
        source = spec.source or "robot config"
        raise RobotSpecError(f"{source} disagrees with the MuJoCo model:\n  - " + "\n  - ".join(problems))


def _kinematics_data(spec: RobotSpec) -> tuple["mujoco.MjModel", "mujoco.MjData", np.ndarray]:
    import mujoco

    model = load_model(spec, spec.model.robot_entry)
    return model, mujoco.MjData(model), joint_qpos_addresses(spec, model)


class KeyBodyKinematics:
    """Key-body frames by forward kinematics with its own MuJoCo data: build once, call per frame (a per-tick user)."""

    def __init__(self, spec: RobotSpec) -> None:
        """Load the robot model and find the key bodies of ``spec``."""
        self.model, self.data, self.qadr = _kinematics_data(spec)
        self.bodies = np.array([self.model.body(k.body).id for k in spec.key_bodies])
        self.offsets = np.array([k.offset for k in spec.key_bodies])

    def __call__(self, root_pos: np.ndarray, root_quat: np.ndarray,
                 joint_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World positions (K, 3) of the key-body points and their bodies' rotations (K, 3, 3) for one frame."""
        import mujoco

        self.data.qpos[:3] = root_pos
        self.data.qpos[3:7] = root_quat
        self.data.qpos[self.qadr] = joint_pos
        mujoco.mj_kinematics(self.model, self.data)
        rotations = self.data.xmat[self.bodies].reshape(-1, 3, 3)
        return self.data.xpos[self.bodies] + np.einsum("kij,kj->ki", rotations, self.offsets), rotations


def key_body_frames(spec: RobotSpec, root_pos: np.ndarray, root_quat: np.ndarray,
                    joint_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World positions (T, K, 3) of the config's key-body points and their bodies' rotations (T, K, 3, 3).

    By MuJoCo forward kinematics; ``root_quat`` is (w, x, y, z); ``joint_pos`` is in motor order.
    """
    kinematics = KeyBodyKinematics(spec)
    root_pos, root_quat, joint_pos = (np.atleast_2d(np.asarray(a, dtype=np.float64))
                                      for a in (root_pos, root_quat, joint_pos))
    positions = np.empty((len(joint_pos), len(spec.key_bodies), 3))
    rotations = np.empty((len(joint_pos), len(spec.key_bodies), 3, 3))
    for t in range(len(joint_pos)):
        positions[t], rotations[t] = kinematics(root_pos[t], root_quat[t], joint_pos[t])
    return positions, rotations


def key_body_positions(spec: RobotSpec, root_pos: np.ndarray, root_quat: np.ndarray,
                       joint_pos: np.ndarray) -> np.ndarray:
    """World positions (T, K, 3) of the config's key-body points by MuJoCo forward kinematics.

    ``root_quat`` is (w, x, y, z); ``joint_pos`` is in motor order.
    """
    return key_body_frames(spec, root_pos, root_quat, joint_pos)[0]


def motion_qpos(spec: RobotSpec, model: "mujoco.MjModel", root_pos: np.ndarray, root_quat: np.ndarray,
                joint_pos: np.ndarray) -> np.ndarray:
    """MuJoCo qpos rows (T, nq) of a motion: root position, root quaternion (wxyz), joints in motor order."""
    qpos = np.zeros((len(joint_pos), model.nq))
    qpos[:, :3], qpos[:, 3:7], qpos[:, joint_qpos_addresses(spec, model)] = root_pos, root_quat, joint_pos
    return qpos


def foot_spheres(spec: RobotSpec, model: "mujoco.MjModel") -> list[np.ndarray]:
    """Geom ids of the collision spheres of each foot (the feet's contact points), in ``spec.model.feet`` order."""
    import mujoco

    spheres = []
    for name in spec.model.feet:
        body = model.body(name).id
        ids = np.array([g for g in range(model.ngeom) if model.geom_bodyid[g] == body
                        and model.geom_type[g] == mujoco.mjtGeom.mjGEOM_SPHERE], dtype=np.int64)
        if len(ids) == 0:
            raise RobotSpecError(f"no collision spheres on the foot {name!r} to stand on")
        spheres.append(ids)
    return spheres


def standing_height(spec: RobotSpec, joint_pos: np.ndarray) -> float:
    """Pelvis height that puts the lowest foot collision sphere on the floor (z = 0) for ``joint_pos``."""
    return float(standing_heights(spec, np.asarray(joint_pos, dtype=np.float64)[None])[0])


class PelvisHeight:
    """Pelvis height above the floor with the lowest foot collision sphere on it, by forward kinematics.

    Holds its own MuJoCo data: build one per user (thread) and call it as often as needed (tens of microseconds).
    """

    def __init__(self, spec: RobotSpec) -> None:
        """Load the robot model and find its foot spheres."""
        self.model, self.data, self.qadr = _kinematics_data(spec)
        self.spheres = np.concatenate(foot_spheres(spec, self.model))
        self.data.qpos[:7] = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]

    def __call__(self, joint_pos: np.ndarray, root_quat_wxyz: np.ndarray | None = None) -> float:
        """The height for joints ``joint_pos`` (n,), the pelvis upright or oriented by ``root_quat_wxyz`` (wxyz)."""
        import mujoco

        self.data.qpos[3:7] = [1.0, 0.0, 0.0, 0.0] if root_quat_wxyz is None else root_quat_wxyz
        self.data.qpos[self.qadr] = joint_pos
        mujoco.mj_kinematics(self.model, self.data)
        return float(-np.min(self.data.geom_xpos[self.spheres, 2] - self.model.geom_size[self.spheres, 0]))


def standing_heights(spec: RobotSpec, joint_pos: np.ndarray) -> np.ndarray:
    """Pelvis heights (T,) that put the lowest foot collision sphere on the floor, pelvis upright, per frame (T, n).

    The root height of a motion made of joints only (a CMG's output): the stance foot stands on the floor.
    """
    height = PelvisHeight(spec)
    return np.array([height(frame) for frame in joint_pos])
