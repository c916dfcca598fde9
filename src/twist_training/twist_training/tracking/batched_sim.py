"""Many G1 simulations stepped together: one interface, two backends (CPU MuJoCo threads, MuJoCo Warp).

Both backends step the training model (``sim_model.training_model``: the bridge's PD actuators, effort limits and
armature) ``decimation`` physics steps per control step, with MuJoCo evaluating the PD law at every physics step
from the joint targets of the control step. Readouts are torch tensors on the backend's device, joints in motor
order, quaternions (w, x, y, z).

Domain randomization uses **variants**: ``DomainRandomization.variants`` randomized copies of the physics
parameters (contact friction, torso mass and centre of mass, per-joint Kp and Kd strength, gravity), variant 0
nominal. Every environment is assigned a variant at reset (:meth:`BatchedSim.reset`); ``variant_params`` gives the
values for privileged observations. The CPU backend hands MuJoCo's threaded rollout one model per environment
(the variant's), the Warp backend writes the variant's values into per-world model arrays.
"""

from __future__ import annotations

import abc
import copy
import dataclasses
from collections.abc import Callable

import mujoco
import numpy as np
import torch

from twist_core.model import joint_dof_addresses, joint_qpos_addresses
from twist_core.robot import RobotSpec
from twist_core.sim import joint_actuators
from twist_training.tracking.sim_model import training_model


#: A force law on the floating base, evaluated every physics step (see :meth:`BatchedSim.step`).
BaseForce = Callable[[], torch.Tensor]


@dataclasses.dataclass
class DomainRandomization:
    """Ranges of the randomized physics (TWIST's G1 values; gravity is applied here, unlike the original)."""

    variants: int = 32
    friction: tuple[float, float] = (0.1, 2.0)
    torso_mass: tuple[float, float] = (-3.0, 3.0)
    torso_com: float = 0.05
    kp_strength: tuple[float, float] = (0.8, 1.2)
    kd_strength: tuple[float, float] = (0.8, 1.2)
    gravity: float = 0.1
    enabled: bool = True

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        if self.variants < 1:
            raise ValueError(f"variants must be >= 1, not {self.variants}")


@dataclasses.dataclass
class Variant:
    """One set of randomized physics parameters."""

    friction: float
    torso_mass_delta: float
    torso_com_delta: np.ndarray
    kp_strength: np.ndarray
    kd_strength: np.ndarray
    gravity: np.ndarray

    def as_vector(self) -> np.ndarray:
        """Privileged-observation form: friction, mass delta, COM delta (3), kp-1 (29), kd-1 (29), gravity delta."""
        return np.concatenate([[self.friction, self.torso_mass_delta], self.torso_com_delta, self.kp_strength - 1.0,
                               self.kd_strength - 1.0, self.gravity - np.array([0.0, 0.0, -9.81])])


def make_variants(spec: RobotSpec, config: DomainRandomization, seed: int) -> list[Variant]:
    """``config.variants`` variants; the first is nominal (and all are, when randomization is disabled)."""
    rng = np.random.default_rng(seed)
    n = spec.num_joints
    nominal = Variant(1.0, 0.0, np.zeros(3), np.ones(n), np.ones(n), np.array([0.0, 0.0, -9.81]))
    variants = [nominal]
    for _ in range(max(config.variants, 1) - 1):
        if not config.enabled:
            variants.append(nominal)
            continue
        variants.append(Variant(
            friction=float(rng.uniform(*config.friction)),
            torso_mass_delta=float(rng.uniform(*config.torso_mass)),
            torso_com_delta=rng.uniform(-config.torso_com, config.torso_com, 3),
            kp_strength=rng.uniform(*config.kp_strength, n), kd_strength=rng.uniform(*config.kd_strength, n),
            gravity=np.array([0.0, 0.0, -9.81]) + rng.uniform(-config.gravity, config.gravity, 3)))
    return variants


def apply_variant(spec: RobotSpec, model: mujoco.MjModel, nominal: mujoco.MjModel, variant: Variant) -> None:
    """Write a variant's parameters into ``model`` (a copy of ``nominal``)."""
    act = joint_actuators(spec, nominal)
    torso = nominal.body(spec.model.anchor_body).id
    model.geom_friction[:, 0] = variant.friction
    model.body_mass[torso] = nominal.body_mass[torso] + variant.torso_mass_delta
    model.body_ipos[torso] = nominal.body_ipos[torso] + variant.torso_com_delta
    model.opt.gravity[:] = variant.gravity
    kp, kd = spec.kp * variant.kp_strength, spec.kd * variant.kd_strength
    model.actuator_gainprm[act, 0] = kp
    model.actuator_biasprm[act, 0] = 0.0
    model.actuator_biasprm[act, 1] = -kp
    model.actuator_biasprm[act, 2] = -kd


class BatchedSim(abc.ABC):
    """The interface both backends implement (see the module docstring)."""

    def __init__(self, spec: RobotSpec, num_envs: int, physics_dt: float = 0.005, decimation: int = 4,
                 randomization: DomainRandomization | None = None, seed: int = 0, collision: str = "full") -> None:
        """Build the training model (``collision``: sim_model.COLLISION_MODELS) and the variants."""
        self.spec = spec
        self.num_envs = num_envs
        self.decimation = decimation
        self.physics_dt = physics_dt
        self.control_dt = physics_dt * decimation
        self.model, self.layout = training_model(spec, physics_dt, collision)
        self.randomization = randomization or DomainRandomization(enabled=False, variants=1)
        self.variants = make_variants(spec, self.randomization, seed)
        self.variant_vectors = torch.as_tensor(np.stack([v.as_vector() for v in self.variants]), dtype=torch.float32)
        self.env_variant = np.zeros(num_envs, dtype=np.int64)
        if self.model.jnt_type[0] != mujoco.mjtJoint.mjJNT_FREE or self.model.jnt_dofadr[0] != 0:
            raise ValueError("the training model must start with the pelvis' free joint")
        self._qadr = joint_qpos_addresses(spec, self.model)
        self._dadr = joint_dof_addresses(spec, self.model)
        self._act = joint_actuators(spec, self.model)
        self._qadr_t = torch.as_tensor(np.array(self._qadr))
        self._dadr_t = torch.as_tensor(np.array(self._dadr))
        self._rng = np.random.default_rng(seed + 1)
        self._on_device: dict[str, torch.Tensor] = {}  # index and variant tables, moved to the device once

    def _device_table(self, name: str, table: torch.Tensor) -> torch.Tensor:
        """``table`` on the readouts' device, copied there once (no host-device copy per step)."""
        if name not in self._on_device:
            self._on_device[name] = table.to(self.device)
        return self._on_device[name]

    # -- to implement ---------------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def device(self) -> torch.device:
        """Where readouts live."""

    @abc.abstractmethod
    def _set_state(self, env_ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        """Overwrite the physics state of ``env_ids`` (float64 tensors on the device) and recompute their sensors."""

    @abc.abstractmethod
    def _set_variants(self, env_ids: torch.Tensor) -> None:
        """Make ``env_ids`` (a tensor on the device) simulate their ``env_variant``."""

    @abc.abstractmethod
    def step(self, targets: torch.Tensor, base_force: BaseForce | None = None) -> None:
        """Advance one control step with joint position targets (N, 29) in motor order.

        ``base_force``, when given, is evaluated before every physics step from the current readouts: a generalized
        force (N, 6) on the floating base (world force, then torque in the pelvis frame: MuJoCo's free-joint dofs).
        """

    @abc.abstractmethod
    def qpos(self) -> torch.Tensor:
        """Generalized positions (N, nq)."""

    @abc.abstractmethod
    def qvel(self) -> torch.Tensor:
        """Generalized velocities (N, nv)."""

    @abc.abstractmethod
    def sensordata(self) -> torch.Tensor:
        """Sensor values (N, nsensordata)."""

    @abc.abstractmethod
    def add_base_velocity(self, env_ids: torch.Tensor | np.ndarray, delta: torch.Tensor | np.ndarray) -> None:
        """Add a world-frame linear velocity (len(env_ids), 3) to the pelvis (a push)."""

    # -- shared ---------------------------------------------------------------------------------------
    def close(self) -> None:
        """Release backend resources (threads); the default has none."""

    def reset(self, env_ids: torch.Tensor | np.ndarray, root_pos: torch.Tensor | np.ndarray,
              root_quat: torch.Tensor | np.ndarray, joint_pos: torch.Tensor | np.ndarray,
              root_lin_vel: torch.Tensor | np.ndarray | None = None,
              root_ang_vel_body: torch.Tensor | np.ndarray | None = None,
              joint_vel: torch.Tensor | np.ndarray | None = None, variants: np.ndarray | None = None) -> None:
        """Put ``env_ids`` in a state (root pose/velocity world, joints motor order) with a (random) variant.

        Tensors on the simulation's device stay there (no host round trip on a GPU).
        """
        device = self.device

        def tensor(value: torch.Tensor | np.ndarray) -> torch.Tensor:
            return torch.as_tensor(value, dtype=torch.float64, device=device)

        ids = torch.as_tensor(env_ids, dtype=torch.long, device=device)
        n = len(ids)
        if n == 0:
            return
        qpos = self._device_table("qpos0", torch.as_tensor(self.model.qpos0)).repeat(n, 1)
        qvel = torch.zeros(n, self.model.nv, dtype=torch.float64, device=device)
        qpos[:, :3], qpos[:, 3:7] = tensor(root_pos), tensor(root_quat)
        qpos[:, self._device_table("qadr", self._qadr_t)] = tensor(joint_pos)
        if root_lin_vel is not None:
            qvel[:, :3] = tensor(root_lin_vel)
        if root_ang_vel_body is not None:
            qvel[:, 3:6] = tensor(root_ang_vel_body)
        if joint_vel is not None:
            qvel[:, self._device_table("dadr", self._dadr_t)] = tensor(joint_vel)
        if variants is None:
            variants = self._rng.integers(len(self.variants), size=n)
        self.env_variant[ids.cpu().numpy()] = variants
        self._variant_of()[ids] = torch.as_tensor(variants, dtype=torch.long, device=device)
        self._set_variants(ids)
        self._set_state(ids, qpos, qvel)

    def _variant_of(self) -> torch.Tensor:
        """Each environment's variant index, on the device."""
        return self._device_table("variant_of", torch.as_tensor(self.env_variant))

    def variant_params(self) -> torch.Tensor:
        """Each environment's variant as a vector (N, 66) for privileged observations."""
        return self._device_table("variant_vectors", self.variant_vectors)[self._variant_of()]

    def root_pos(self) -> torch.Tensor:
        """Pelvis position (N, 3), world."""
        return self.qpos()[:, :3]

    def root_quat(self) -> torch.Tensor:
        """Pelvis orientation (N, 4) wxyz, world."""
        return self.qpos()[:, 3:7]

    def root_lin_vel(self) -> torch.Tensor:
        """Pelvis linear velocity (N, 3), world."""
        return self.qvel()[:, :3]

    def root_ang_vel_body(self) -> torch.Tensor:
        """Pelvis angular velocity (N, 3), pelvis frame."""
        return self.qvel()[:, 3:6]

    def joint_pos(self) -> torch.Tensor:
        """Joint positions (N, 29), motor order."""
        return self.qpos()[:, self._device_table("qadr", self._qadr_t)]

    def joint_vel(self) -> torch.Tensor:
        """Joint velocities (N, 29), motor order."""
        return self.qvel()[:, self._device_table("dadr", self._dadr_t)]

    def _sensor(self, part: slice) -> torch.Tensor:
        return self.sensordata()[:, part]

    def key_body_pos(self) -> torch.Tensor:
        """Key-body points (N, K, 3), world."""
        return self._sensor(self.layout.key_body_pos).reshape(self.num_envs, -1, 3)

    def foot_force(self) -> torch.Tensor:
        """Normal contact force under each foot (N, 2) [N]."""
        return self._sensor(self.layout.foot_force)

    def foot_vel(self) -> torch.Tensor:
        """Foot sole velocities (N, 2, 3), world."""
        return self._sensor(self.layout.foot_vel).reshape(self.num_envs, 2, 3)

    def imu_quat(self) -> torch.Tensor:
        """IMU orientation (N, 4) wxyz."""
        return self._sensor(self.layout.imu_quat)

    def imu_gyro(self) -> torch.Tensor:
        """IMU angular velocity (N, 3), IMU frame."""
        return self._sensor(self.layout.imu_gyro)

    def joint_torque(self) -> torch.Tensor:
        """Applied joint torques (N, 29), motor order."""
        return self._sensor(self.layout.joint_torque)


class CpuBatchedSim(BatchedSim):
    """MuJoCo (C) environments stepped by ``mujoco.rollout`` on a thread pool, one model per variant."""

    def __init__(self, spec: RobotSpec, num_envs: int, physics_dt: float = 0.005, decimation: int = 4,
                 randomization: DomainRandomization | None = None, seed: int = 0, threads: int = 2,
                 collision: str = "full") -> None:
        """Create the variant models, the thread pool and the state buffers (all envs at the model's qpos0)."""
        from mujoco import rollout

        super().__init__(spec, num_envs, physics_dt, decimation, randomization, seed, collision)
        self._models = []
        for variant in self.variants:
            model = copy.deepcopy(self.model)
            apply_variant(spec, model, self.model, variant)
            self._models.append(model)
        self._threads = threads
        self._rollout = rollout.Rollout(nthread=threads)
        self._datas = [mujoco.MjData(self.model) for _ in range(threads)]
        self._spec_state = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self._nstate = mujoco.mj_stateSize(self.model, self._spec_state)
        self._qpos_at = mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_TIME)
        self._qvel_at = self._qpos_at + self.model.nq
        self._state = np.zeros((num_envs, self._nstate))
        self._sensordata = np.zeros((num_envs, self.model.nsensordata))
        # controls: actuator inputs, then qfrc_applied (the floating base's generalized force)
        self._control_spec = mujoco.mjtState.mjSTATE_CTRL | mujoco.mjtState.mjSTATE_QFRC_APPLIED
        self._ctrl = np.zeros((num_envs, decimation, self.model.nu + self.model.nv))
        self._out_state = np.zeros((num_envs, decimation, self._nstate))
        self._out_sensor = np.zeros((num_envs, decimation, self.model.nsensordata))
        self._single = (np.zeros((num_envs, 1, self.model.nu + self.model.nv)), np.zeros((num_envs, 1, self._nstate)),
                        np.zeros((num_envs, 1, self.model.nsensordata)))  # one physics step at a time
        data = self._datas[0]
        mujoco.mj_resetData(self.model, data)
        mujoco.mj_forward(self.model, data)
        state = np.zeros(self._nstate)
        mujoco.mj_getState(self.model, data, state, self._spec_state)
        self._state[:] = state
        self._sensordata[:] = data.sensordata
        self._env_models = [self._models[0]] * num_envs
        self._refresh()

    def _refresh(self) -> None:
        """Float32 torch copies of the state and sensors, made once per change."""
        self._qpos_t = torch.from_numpy(self._state[:, self._qpos_at:self._qvel_at]).float()
        self._qvel_t = torch.from_numpy(self._state[:, self._qvel_at:self._qvel_at + self.model.nv]).float()
        self._sensor_t = torch.from_numpy(self._sensordata).float()

    @property
    def device(self) -> torch.device:
        """Readouts are CPU tensors sharing memory with the state buffers."""
        return torch.device("cpu")

    def _set_variants(self, env_ids: torch.Tensor) -> None:
        for env in env_ids.tolist():
            self._env_models[env] = self._models[self.env_variant[env]]

    def _set_state(self, env_ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        data = self._datas[0]
        qpos, qvel = qpos.numpy(), qvel.numpy()
        for row, env in enumerate(env_ids.tolist()):
            model = self._env_models[env]
            mujoco.mj_resetData(model, data)
            data.qpos[:] = qpos[row]
            data.qvel[:] = qvel[row]
            mujoco.mj_forward(model, data)
            mujoco.mj_getState(model, data, self._state[env], self._spec_state)
            self._sensordata[env] = data.sensordata
        self._refresh()

    def step(self, targets: torch.Tensor, base_force: BaseForce | None = None) -> None:
        """One control step for every environment (threads in C); physics step by physics step with a force law."""
        self._ctrl[:, :, self._act] = targets.detach().cpu().numpy()[:, None, :]
        if base_force is None:
            self._rollout.rollout(self._env_models, self._datas, self._state, self._ctrl, nstep=self.decimation,
                                  control_spec=self._control_spec, state=self._out_state, sensordata=self._out_sensor,
                                  skip_checks=True)
            self._state[:] = self._out_state[:, -1]
            self._sensordata[:] = self._out_sensor[:, -1]
            self._refresh()
        else:
            nu = self.model.nu
            ctrl, state, sensor = self._single
            ctrl[:] = self._ctrl[:, :1]
            for _ in range(self.decimation):
                ctrl[:, 0, nu:nu + 6] = base_force().detach().cpu().numpy()
                self._rollout.rollout(self._env_models, self._datas, self._state, ctrl, nstep=1,
                                      control_spec=self._control_spec, state=state, sensordata=sensor,
                                      skip_checks=True)
                self._state[:] = state[:, 0]
                self._sensordata[:] = sensor[:, 0]
                self._refresh()  # the force law reads the state after every physics step

    def qpos(self) -> torch.Tensor:
        """Generalized positions (N, nq), float32."""
        return self._qpos_t

    def qvel(self) -> torch.Tensor:
        """Generalized velocities (N, nv), float32."""
        return self._qvel_t

    def sensordata(self) -> torch.Tensor:
        """Sensor values (N, nsensordata), float32."""
        return self._sensor_t

    def add_base_velocity(self, env_ids: torch.Tensor | np.ndarray, delta: torch.Tensor | np.ndarray) -> None:
        """A push: add ``delta`` to the pelvis' world linear velocity."""
        self._state[np.asarray(env_ids), self._qvel_at:self._qvel_at + 3] += np.asarray(delta)
        self._refresh()

    def close(self) -> None:
        """Stop the thread pool."""
        self._rollout.close()
