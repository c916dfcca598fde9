"""MuJoCo simulation of the G1: PD every physics step, a virtual gantry, sensors.

Shared by the MuJoCo bridge, the walking generator's physical check and training, so that all of them
simulate the same robot the same way.

Each joint's actuator is an affine MuJoCo actuator whose parameters are set from the latest cached
:class:`~twist_core.safety.JointTargets`, so that at **every physics step** MuJoCo applies

    tau = clip(effort + kp (position - q) + kd (velocity - dq), -effort_limit, effort_limit)

with the effort limits and armature of ``config/g1.yaml``. MuJoCo's ``implicitfast`` integrator treats the
``-kd dq`` term implicitly. This matters: evaluated explicitly at 500 Hz, kd = 8 (damping mode) on a wrist
(armature 0.0036 kg m^2) is numerically unstable and makes the joint oscillate at its torque limit.
"""

from __future__ import annotations

import copy
import dataclasses

import mujoco
import numpy as np

from twist_core.model import joint_dof_addresses, joint_qpos_addresses, load_model, standing_height
from twist_core.robot import RobotSpec
from twist_core import rotations
from twist_core.safety import JointTargets


@dataclasses.dataclass(frozen=True)
class GantryConfig:
    """An elastic band holding the pelvis, like the rack a real G1 hangs on during start-up."""

    stiffness: float = 4000.0          # N/m, pulling the pelvis towards the anchor
    damping: float = 400.0             # N*s/m
    angular_stiffness: float = 400.0   # N*m/rad, keeping the pelvis upright (about x and y)
    angular_damping: float = 40.0      # N*m*s/rad
    height: float | None = None        # anchor height [m]; None: the standing height at reset


@dataclasses.dataclass
class SimState:
    """One atomic snapshot, in motor order where it is per joint."""

    time: float
    q: np.ndarray
    dq: np.ndarray
    tau: np.ndarray
    imu_quat_wxyz: np.ndarray
    gyro: np.ndarray
    accel: np.ndarray
    base_pos: np.ndarray
    base_quat_wxyz: np.ndarray
    base_lin_vel_body: np.ndarray
    base_ang_vel_body: np.ndarray
    saturated: bool

    @property
    def roll_pitch(self) -> tuple[float, float]:
        """Pelvis roll and pitch from the IMU orientation."""
        roll, pitch, _ = rotations.roll_pitch_yaw(self.imu_quat_wxyz)
        return float(roll), float(pitch)

    @property
    def height(self) -> float:
        """Pelvis height above the floor (z = 0)."""
        return float(self.base_pos[2])


class G1Sim:
    """The G1 in MuJoCo with torque control; see the module docstring."""

    def __init__(self, spec: RobotSpec, physics_rate: float = 500.0, gantry: GantryConfig | None = None,
                 imu_noise: tuple[float, float] = (0.0, 0.0), seed: int = 0) -> None:
        """Compile the scene, convert its actuators to torque motors and reset to the default pose.

        Args:
            spec: the robot spec (joint order, limits, armature).
            physics_rate: physics steps per second (the model timestep is set to its inverse).
            gantry: the virtual gantry's parameters.
            imu_noise: standard deviations of gyro [rad/s] and accelerometer [m/s^2] noise.
            seed: seed of the noise generator.
        """
        self.spec = spec
        self.model = pd_model(spec, load_model(spec, spec.model.scene_entry), physics_rate)
        self.data = mujoco.MjData(self.model)
        self.gantry_config = gantry or GantryConfig()
        self.gantry_engaged = True
        self.imu_noise = imu_noise
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._qadr = joint_qpos_addresses(spec, self.model)
        self._dadr = joint_dof_addresses(spec, self.model)
        self._act = joint_actuators(spec, self.model)
        self._root = self.model.body(spec.model.root_body).id
        self._imu = self.model.site(spec.model.imu_site).id
        self._at_limit = np.array(spec.effort_limits) * (1.0 - 1e-9)
        self._tau = np.zeros(spec.num_joints)
        self._saturated = False
        self._anchor = np.zeros(3)
        self.standing_height = standing_height(self.spec, spec.default_pose)
        self.reset()

    @property
    def timestep(self) -> float:
        """Physics step [s]."""
        return float(self.model.opt.timestep)

    @property
    def time(self) -> float:
        """Simulated time [s]."""
        return float(self.data.time)

    # -- reset --------------------------------------------------------------------------------------
    def reset(self, q: np.ndarray | None = None, dq: np.ndarray | None = None,
              base_pos: np.ndarray | None = None, base_quat_wxyz: np.ndarray | None = None) -> None:
        """Reset to a pose (default: the default pose standing on the floor), gantry engaged, time 0."""
        mujoco.mj_resetData(self.model, self.data)
        self._rng = np.random.default_rng(self._seed)
        q = self.spec.default_pose if q is None else np.asarray(q, dtype=np.float64)
        height = standing_height(self.spec, q) if base_pos is None else None
        self.data.qpos[:3] = [0.0, 0.0, height] if base_pos is None else base_pos
        self.data.qpos[3:7] = [1.0, 0.0, 0.0, 0.0] if base_quat_wxyz is None else base_quat_wxyz
        self.data.qpos[self._qadr] = q
        if dq is not None:
            self.data.qvel[self._dadr] = dq
        self.set_targets(JointTargets(*(np.zeros(self.spec.num_joints) for _ in range(5))))
        self._tau[:] = 0.0
        self.gantry_engaged = True
        anchor_height = self.gantry_config.height or self.standing_height
        self._anchor = np.array([self.data.qpos[0], self.data.qpos[1], anchor_height])
        mujoco.mj_forward(self.model, self.data)

    # -- control ------------------------------------------------------------------------------------
    def set_targets(self, targets: JointTargets) -> None:
        """Set the PD law applied at every following physics step (see the module docstring)."""
        act = self._act
        self.model.actuator_gainprm[act, 0] = targets.kp
        self.model.actuator_biasprm[act, 0] = targets.effort + targets.kd * targets.velocity
        self.model.actuator_biasprm[act, 1] = -targets.kp
        self.model.actuator_biasprm[act, 2] = -targets.kd
        self.data.ctrl[act] = targets.position

    def set_gantry(self, engaged: bool) -> None:
        """Engage (anchored above the pelvis' current x, y) or release the virtual gantry."""
        if engaged and not self.gantry_engaged:
            height = self.gantry_config.height or self.standing_height
            self._anchor = np.array([self.data.qpos[0], self.data.qpos[1], height])
        self.gantry_engaged = engaged

    def push(self, velocity: np.ndarray) -> None:
        """Add ``velocity`` (3,) [m/s, world frame] to the pelvis' linear velocity: a push, as in training."""
        velocity = np.asarray(velocity, dtype=np.float64)
        if velocity.shape != (3,) or not np.all(np.isfinite(velocity)):
            raise ValueError(f"a push is 3 finite numbers [m/s], got {velocity.tolist()}")
        self.data.qvel[0:3] += velocity

    def step(self, n: int = 1) -> None:
        """Advance ``n`` physics steps, evaluating PD (and the gantry) before each."""
        saturated = False
        for _ in range(n):
            self.data.xfrc_applied[self._root] = self._gantry_wrench() if self.gantry_engaged else 0.0
            mujoco.mj_step(self.model, self.data)
            saturated = saturated or bool(np.any(np.abs(self.data.actuator_force[self._act]) >= self._at_limit))
        self._tau = self.data.actuator_force[self._act].copy()
        self._saturated = saturated

    def _gantry_wrench(self) -> np.ndarray:
        cfg = self.gantry_config
        pos = self.data.xpos[self._root]
        vel = self.data.qvel[:3]
        force = cfg.stiffness * (self._anchor - pos) - cfg.damping * vel
        z_axis = self.data.xmat[self._root].reshape(3, 3)[:, 2]
        tilt = np.cross(z_axis, [0.0, 0.0, 1.0])  # axis * sin(angle) rotating the pelvis z back up
        ang_vel_world = self.data.xmat[self._root].reshape(3, 3) @ self.data.qvel[3:6]
        torque = cfg.angular_stiffness * tilt - cfg.angular_damping * np.array([*ang_vel_world[:2], 0.0])
        return np.concatenate([force, torque])

    # -- sensing ------------------------------------------------------------------------------------
    def joints(self) -> tuple[np.ndarray, np.ndarray]:
        """Joint positions and velocities in motor order (copies)."""
        return self.data.qpos[self._qadr].copy(), self.data.qvel[self._dadr].copy()

    def state(self) -> SimState:
        """The current snapshot (IMU from the pelvis IMU site, noise if configured)."""
        d = self.data
        rot_site = d.site_xmat[self._imu].reshape(3, 3)
        imu_quat = np.zeros(4)
        mujoco.mju_mat2Quat(imu_quat, d.site_xmat[self._imu])
        rot_base = d.xmat[self._root].reshape(3, 3)
        ang_vel_body = d.qvel[3:6].copy()  # free joint: angular velocity in the body frame
        lin_vel_world = d.qvel[:3].copy()
        gyro = rot_site.T @ (rot_base @ ang_vel_body)
        accel = rot_site.T @ self._site_linear_acceleration()
        gyro_noise, accel_noise = self.imu_noise
        if gyro_noise > 0:
            gyro = gyro + self._rng.normal(0.0, gyro_noise, 3)
        if accel_noise > 0:
            accel = accel + self._rng.normal(0.0, accel_noise, 3)
        return SimState(
            time=float(d.time), q=d.qpos[self._qadr].copy(), dq=d.qvel[self._dadr].copy(), tau=self._tau.copy(),
            imu_quat_wxyz=imu_quat, gyro=gyro, accel=accel, base_pos=d.qpos[:3].copy(),
            base_quat_wxyz=d.qpos[3:7].copy(), base_lin_vel_body=rot_base.T @ lin_vel_world,
            base_ang_vel_body=ang_vel_body, saturated=self._saturated)

    def _site_linear_acceleration(self) -> np.ndarray:
        """World-frame proper acceleration of the IMU site (gravity included, as an accelerometer reads)."""
        acc = np.zeros(6)
        mujoco.mj_objectAcceleration(self.model, self.data, mujoco.mjtObj.mjOBJ_SITE, self._imu, acc, 0)
        return acc[3:]


def joint_actuators(spec: RobotSpec, model: mujoco.MjModel) -> np.ndarray:
    """Id of the actuator driving each spec joint, in motor order (found by transmission, not by name)."""
    by_joint = {int(model.actuator_trnid[a, 0]): a for a in range(model.nu)
                if model.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_JOINT}
    missing = [n for n in spec.joint_names if model.joint(n).id not in by_joint]
    if missing:
        raise ValueError(f"no actuator drives {missing}")
    return np.array([by_joint[model.joint(n).id] for n in spec.joint_names], dtype=np.int64)


def pd_model(spec: RobotSpec, base: mujoco.MjModel, physics_rate: float) -> mujoco.MjModel:
    """A copy of ``base`` set up for the bridge's PD law.

    Affine actuators limited to the config efforts, the config armature, the requested timestep and the
    implicitfast integrator.
    """
    model = copy.deepcopy(base)
    model.opt.timestep = 1.0 / physics_rate
    model.opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    for joint, act in zip(spec.joints, joint_actuators(spec, model)):
        model.actuator_dyntype[act] = mujoco.mjtDyn.mjDYN_NONE
        model.actuator_gaintype[act] = mujoco.mjtGain.mjGAIN_FIXED
        model.actuator_biastype[act] = mujoco.mjtBias.mjBIAS_AFFINE
        model.actuator_gainprm[act, :] = 0.0
        model.actuator_biasprm[act, :] = 0.0
        model.actuator_ctrllimited[act] = 0
        model.actuator_forcelimited[act] = 1
        model.actuator_forcerange[act] = [-joint.effort, joint.effort]
        model.dof_armature[model.jnt_dofadr[model.joint(joint.name).id]] = joint.armature
    return model
