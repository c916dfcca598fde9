"""The MuJoCo Warp backend of :class:`~twist_training.tracking.batched_sim.BatchedSim` (GPU, or Warp's CPU device).

All environments are worlds of one ``mujoco_warp`` Data; randomized parameters are per-world model arrays
(``put_model`` batch sizes), filled from each environment's variant. Readouts are zero-copy torch views of the
Warp arrays on the same device. On the CPU the first use compiles Warp's kernels (about 1.5 minutes on 2 cores,
cached afterwards in Warp's kernel cache).
"""

from __future__ import annotations

import copy

import mujoco
import numpy as np
import torch

from twist_core.robot import RobotSpec
from twist_training.tracking.batched_sim import BaseForce, BatchedSim, DomainRandomization, apply_variant

BATCHED_FIELDS = ("geom_friction", "body_mass", "body_ipos", "actuator_gainprm", "actuator_biasprm")


class WarpBatchedSim(BatchedSim):
    """Environments as worlds of MuJoCo Warp; see the module docstring."""

    def __init__(self, spec: RobotSpec, num_envs: int, physics_dt: float = 0.005, decimation: int = 4,
                 randomization: DomainRandomization | None = None, seed: int = 0, device: str = "cuda:0",
                 nconmax: int = 64, njmax: int = 256, collision: str = "full") -> None:
        """Put the model and ``num_envs`` worlds on ``device`` (``cpu`` or ``cuda:N``)."""
        import mujoco_warp as mjw
        import warp as wp

        super().__init__(spec, num_envs, physics_dt, decimation, randomization, seed, collision)
        self._wp, self._mjw = wp, mjw
        wp.init()
        self._wp_device = wp.get_device(device)
        self._variant_models = []
        for variant in self.variants:
            model = copy.deepcopy(self.model)
            apply_variant(spec, model, self.model, variant)
            self._variant_models.append(model)
        data = mujoco.MjData(self.model)
        mujoco.mj_forward(self.model, data)
        with wp.ScopedDevice(self._wp_device):
            self._m = mjw.put_model(self.model, batch_sizes={name: num_envs for name in BATCHED_FIELDS})
            self._m.opt.gravity = wp.array(np.tile(self.model.opt.gravity, (num_envs, 1)), dtype=wp.vec3)
            self._d = mjw.put_data(self.model, data, nworld=num_envs, nconmax=nconmax, njmax=njmax)
        self._torch_device = torch.device("cuda", self._wp_device.ordinal) if self._wp_device.is_cuda else \
            torch.device("cpu")
        self._qpos = wp.to_torch(self._d.qpos)
        self._qvel = wp.to_torch(self._d.qvel)
        self._ctrl = wp.to_torch(self._d.ctrl)
        self._sensor_values = wp.to_torch(self._d.sensordata)
        self._qfrc_applied = wp.to_torch(self._d.qfrc_applied)
        self._warmstart = wp.to_torch(self._d.qacc_warmstart)
        self._act_t = torch.as_tensor(self._act, device=self._torch_device)
        # every variant's randomized fields, stacked on the device: a reset gathers its rows (no per-env copies)
        self._variant_tables = {}
        for name in BATCHED_FIELDS:
            shape = wp.to_torch(getattr(self._m, name)).shape[1:]
            dtype = wp.to_torch(getattr(self._m, name)).dtype
            self._variant_tables[name] = torch.stack([
                torch.as_tensor(getattr(m, name), dtype=dtype).reshape(shape) for m in self._variant_models]).to(
                self._torch_device)
        self._variant_gravity = torch.stack([
            torch.as_tensor(m.opt.gravity, dtype=wp.to_torch(self._m.opt.gravity).dtype)
            for m in self._variant_models]).to(self._torch_device)
        self._set_variants(torch.arange(num_envs, device=self._torch_device))

    @property
    def device(self) -> torch.device:
        """The torch device of the Warp arrays."""
        return self._torch_device

    def _set_variants(self, env_ids: torch.Tensor) -> None:
        variants, to_torch = self._variant_of()[env_ids], self._wp.to_torch
        for name, table in self._variant_tables.items():  # one gather per field, on the device
            to_torch(getattr(self._m, name))[env_ids] = table[variants]
        to_torch(self._m.opt.gravity)[env_ids] = self._variant_gravity[variants]

    def _set_state(self, env_ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        self._qpos[env_ids] = qpos.to(self._qpos.dtype)
        self._qvel[env_ids] = qvel.to(self._qvel.dtype)
        self._warmstart[env_ids] = 0.0
        with self._wp.ScopedDevice(self._wp_device):
            self._mjw.forward(self._m, self._d)

    def step(self, targets: torch.Tensor, base_force: BaseForce | None = None) -> None:
        """One control step: ``decimation`` Warp physics steps with the targets as PD setpoints."""
        self._ctrl[:, self._act_t] = targets.to(self._torch_device, self._ctrl.dtype)
        with self._wp.ScopedDevice(self._wp_device):
            for _ in range(self.decimation):
                if base_force is not None:
                    self._qfrc_applied[:, :6] = base_force().to(self._torch_device, self._qfrc_applied.dtype)
                self._mjw.step(self._m, self._d)
        if base_force is not None:
            self._qfrc_applied[:, :6] = 0.0

    def qpos(self) -> torch.Tensor:
        """Generalized positions (N, nq)."""
        return self._qpos

    def qvel(self) -> torch.Tensor:
        """Generalized velocities (N, nv)."""
        return self._qvel

    def sensordata(self) -> torch.Tensor:
        """Sensor values (N, nsensordata)."""
        return self._sensor_values

    def add_base_velocity(self, env_ids: torch.Tensor | np.ndarray, delta: torch.Tensor | np.ndarray) -> None:
        """A push: add ``delta`` to the pelvis' world linear velocity."""
        ids = torch.as_tensor(env_ids, dtype=torch.long, device=self._torch_device)
        self._qvel[ids, :3] += torch.as_tensor(delta, dtype=self._qvel.dtype, device=self._torch_device)
