"""The TWIST-style motion tracking task for the G1, vectorized in torch over a batched simulation.

Every environment tracks a reference clip from a :class:`~twist_training.tracking.references.MotionLibrary`
(mocap and/or CMG clips) starting at a random frame, with reference-state initialization (the robot is placed in
the reference's pose, velocities x0.8, 2 cm up). Each control step (50 Hz): actions (delayed by a per-environment
number of steps, 0..``max_action_delay``) become joint targets through ``twist_core.policy_io`` (the policy node's
code), the simulation advances, then rewards, terminations and observations are computed.

Observations (rsl-rl ``TensorDict`` groups):

- ``student`` (1144): ``PolicyIO.frame`` + ``History`` exactly as the policy node builds them (noisy sensing);
- ``teacher``: ``future_frames`` reference frames ahead (58 each: height, roll, pitch, heading change, local
  linear velocity, yaw rate, 23 joints, 9 key bodies in the frame's yaw frame), the current student frame (104),
  and privileged state (99: pelvis velocity in the pelvis frame, height, the robot's key bodies, foot contacts,
  the physics variant: friction, torso mass and COM, Kp/Kd strength, gravity);
- ``assist`` (1): the gantry's level, for the critics only (the value depends on it; the actor must not lean on it).

Rewards (``rewards.py``: one function per term, weighted by ``RewardWeights``, skipped at weight 0) are TWIST's
terms with TWIST's weights (x the control period): tracking of joints, joint velocities,
root height/tilt, root velocity, key bodies; penalties on foot slip, contact forces, soft joint and torque
limits, joint velocity/acceleration, action rate, short steps, body roll/pitch rate, ankle motion. (TWIST's
stumble penalty needs tangential foot forces, which the foot touch sensors do not measure; it is left out.)
With ``only_positive_rewards`` (default on; TWIST has it off) a step's total is clipped at zero: while the
penalties of a clumsy early policy outweigh the tracking terms, an episode's return would otherwise grow by
ending it sooner, and a short training run learns to fall (measured: episode length 32 -> 14 steps in
10 minutes of CPU training without it).
Terminations: tilt, height or key bodies too far from the reference, runaway speed (never on the first step);
the clip's end and the episode limit are time-outs (bootstrapped). Domain randomization: physics variants
(``batched_sim``), per-environment action delay, pushes (pelvis velocity kicks at random times), sensor noise.
Optionally a fading virtual gantry (``assist``, off by default) holds the robot up early in teacher training.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict

from twist_core.policy_io import History, PolicyIO, roll_pitch
from twist_core.robot import RobotSpec
from twist_training.tracking import torch_math as tm
from twist_training.tracking.assist import Assist, AssistConfig
from twist_training.tracking.batched_sim import BatchedSim
from twist_training.tracking.references import MotionLibrary
from twist_training.tracking.rewards import StepState, weighted_terms

CONTACT_FORCE = 5.0  # [N] a foot carrying more is in contact (rewards, observations)
TWIST_FUTURE_STEPS = (1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95)
DOF_ERROR_WEIGHTS = {"hip_pitch": 1.0, "hip_roll": 0.8, "hip_yaw": 0.8, "knee": 1.0, "ankle_pitch": 0.5,
                     "ankle_roll": 0.5, "waist": 0.6, "shoulder": 0.8, "elbow": 1.0, "wrist": 0.8}


@dataclasses.dataclass
class RewardWeights:
    """TWIST's reward weights (multiplied by the control period when applied)."""

    tracking_joint_dof: float = 0.6
    tracking_joint_vel: float = 0.2
    tracking_root_pose: float = 0.6
    tracking_root_vel: float = 1.0
    tracking_keybody_pos: float = 2.0
    feet_slip: float = -0.1
    feet_contact_forces: float = -5e-4
    dof_pos_limits: float = -5.0
    dof_torque_limits: float = -1.0
    dof_vel: float = -1e-4
    dof_acc: float = -5e-8
    action_rate: float = -0.01
    feet_air_time: float = 5.0
    ang_vel_xy: float = -0.01
    ankle_dof_acc: float = -1e-7
    ankle_dof_vel: float = -2e-4
    #: Not TWIST's: the planar pelvis velocity against the reference's, exp(-|error|^2 / lin_vel_sigma^2), and the
    #: pelvis yaw rate, exp(-error^2 / yaw_rate_sigma^2). TWIST's tracking_root_vel mixes both with the roll and
    #: pitch rates and is nearly flat in a speed deficit: its trackers walk slower and turn less than commanded.
    tracking_lin_vel: float = 0.0
    tracking_yaw_rate: float = 0.0
    #: Not TWIST's: the ankles' heights above the floor against the reference's, exp(-sum of squared errors /
    #: feet_height_sigma^2). TWIST's key-body term barely notices a foot that is not lifted (7 cm: 5 % of it); its
    #: trackers shuffle and turn on the spot without stepping.
    tracking_feet_height: float = 0.0
    #: Not TWIST's: the leg joints (hips, knees, ankles) against the reference's, exp(-sum of squared errors /
    #: leg_dof_sigma^2). TWIST's tracking_joint_dof, exp(-0.15 * sum over all joints), is 0.99 with every leg joint
    #: 0.1 rad off: its trackers step with a straighter knee and 50-80 % of the reference's leg swing.
    tracking_leg_dof: float = 0.0
    #: Not TWIST's: the same for the waist and arms (``joint_groups.upper_body`` of config/g1.yaml, the policy's
    #: joints of it), exp(-sum of squared errors / upper_dof_sigma^2). Human motion moves the arms most: the
    #: general teacher trained without it held its shoulders and elbows 0.3-0.5 rad off (mean) on the mocap clips.
    tracking_upper_dof: float = 0.0


@dataclasses.dataclass
class TaskConfig:
    """Everything about the task except the robot, the simulation and the reference clips."""

    episode_seconds: float = 10.0
    future_steps: tuple[int, ...] = TWIST_FUTURE_STEPS
    rewards: RewardWeights = dataclasses.field(default_factory=RewardWeights)
    air_time_target: float = 0.3
    lin_vel_sigma: float = 0.25
    yaw_rate_sigma: float = 0.5
    feet_height_sigma: float = 0.05
    leg_dof_sigma: float = 0.3
    upper_dof_sigma: float = 1.0
    soft_limit_fraction: float = 0.95
    max_tilt: float = 1.0
    max_height_error: float = 0.25
    max_keybody_error: float = 0.7
    max_speed: float = 5.0
    rsi_velocity_scale: float = 0.8
    rsi_lift: float = 0.02
    max_action_delay: int = 1
    push_interval: tuple[float, float] = (3.0, 5.0)
    push_velocity: float = 0.5
    noise_joint_pos: float = 0.01
    noise_joint_vel: float = 0.1
    noise_gyro: float = 0.1
    noise_tilt: float = 0.05
    only_positive_rewards: bool = True
    assist: AssistConfig = dataclasses.field(default_factory=AssistConfig)

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        if not (self.episode_seconds > 0 and self.future_steps and min(self.future_steps) >= 1
                and self.max_action_delay >= 0 and 0 < self.soft_limit_fraction <= 1):
            raise ValueError("episode_seconds must be > 0, future_steps >= 1, max_action_delay >= 0, "
                             "soft_limit_fraction in (0, 1]")


class TrackingEnv:
    """rsl-rl ``VecEnv`` of the tracking task (duck-typed: rsl-rl only needs the attributes and methods)."""

    def __init__(self, spec: RobotSpec, sim: BatchedSim, library: MotionLibrary, config: TaskConfig,
                 seed: int = 0) -> None:
        """Set up buffers and reset every environment (``seed``: of the task's random draws)."""
        self.spec, self.sim, self.library, self.cfg = spec, sim, library, config
        self.num_envs = sim.num_envs
        self.device = sim.device
        self.io = PolicyIO(spec)
        self.num_actions = self.io.num_actions
        self.dt = sim.control_dt
        self.max_episode_length = int(round(config.episode_seconds / self.dt))
        self.episode_length_buf = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        n, d = self.num_envs, self.device
        self.motion_ids = torch.zeros(n, dtype=torch.long, device=d)
        self.motion_start = torch.zeros(n, dtype=torch.long, device=d)
        self.actions = torch.zeros(n, self.num_actions, device=d)
        self.last_actions = torch.zeros_like(self.actions)
        self.action_queue = torch.zeros(n, config.max_action_delay + 1, self.num_actions, device=d)
        self.action_delay = torch.zeros(n, dtype=torch.long, device=d)
        self.last_joint_vel = torch.zeros(n, spec.num_joints, device=d)
        self.air_time = torch.zeros(n, 2, device=d)
        self.next_push = torch.zeros(n, device=d)
        policy = spec.policy_indices
        self.policy_idx = torch.as_tensor(np.array(policy), device=d)
        self.dof_weights = torch.as_tensor([_dof_weight(spec.joint_names[i]) for i in policy], device=d)
        ankles = [i for i, j in enumerate(policy) if "ankle" in spec.joint_names[j]]
        self.ankle_idx = torch.as_tensor(ankles, device=d)
        legs = [i for i, j in enumerate(policy) if any(k in spec.joint_names[j] for k in ("hip", "knee", "ankle"))]
        self.leg_idx = torch.as_tensor(legs, device=d)
        upper = set(spec.group_indices("upper_body").tolist())
        self.upper_idx = torch.as_tensor([i for i, j in enumerate(policy) if j in upper], device=d)
        self.ankle_keys = torch.as_tensor([spec.key_body_names.index(k) for k in ("left_ankle", "right_ankle")],
                                          device=d)
        middle = (spec.lower_limits + spec.upper_limits) / 2
        half = (spec.upper_limits - spec.lower_limits) / 2 * config.soft_limit_fraction
        self.soft_lower = torch.as_tensor(middle - half, dtype=torch.float32, device=d)
        self.soft_upper = torch.as_tensor(middle + half, dtype=torch.float32, device=d)
        self.effort = torch.as_tensor(np.array(spec.effort_limits), dtype=torch.float32, device=d)
        self.future = torch.as_tensor(config.future_steps, device=d)
        self.assist = Assist(config.assist, n, self.dt)
        self.history: History | None = None
        self._reset(torch.arange(n, device=d))
        self._obs = self._observations(torch.arange(n, device=d))

    # -- reference ---------------------------------------------------------------------------------------
    def _frame_index(self) -> torch.Tensor:
        return self.library.index(self.motion_ids, self.motion_start + self.episode_length_buf)

    def _remaining(self) -> torch.Tensor:
        return self.library.lengths[self.motion_ids] - 1 - (self.motion_start + self.episode_length_buf)

    # -- reset -------------------------------------------------------------------------------------------
    def _reset(self, ids: torch.Tensor) -> None:
        if len(ids) == 0:
            return
        lib, cfg = self.library, self.cfg
        motion, start = lib.sample(len(ids), self.generator)
        self.motion_ids[ids], self.motion_start[ids] = motion, start
        self.episode_length_buf[ids] = 0
        frame = lib.index(motion, start)
        root_pos = lib.root_pos[frame].clone()
        root_pos[:, 2] += cfg.rsi_lift
        quat = lib.root_quat[frame]
        lin_vel_world = tm.rotate(quat, lib.root_lin_vel_local[frame]) * cfg.rsi_velocity_scale
        self.sim.reset(ids, root_pos, quat, lib.joint_pos[frame], lin_vel_world,
                       lib.root_ang_vel_local[frame] * cfg.rsi_velocity_scale,
                       lib.joint_vel[frame] * cfg.rsi_velocity_scale)
        self.actions[ids] = 0.0
        self.last_actions[ids] = 0.0
        self.action_queue[ids] = 0.0
        self.action_delay[ids] = torch.randint(0, cfg.max_action_delay + 1, (len(ids),), device=self.device,
                                               generator=self.generator)
        self.last_joint_vel[ids] = self.sim.joint_vel()[ids]
        self.air_time[ids] = 0.0
        self.next_push[ids] = self._push_time(len(ids))

    def _push_time(self, n: int) -> torch.Tensor:
        low, high = self.cfg.push_interval
        return low + (high - low) * torch.rand(n, device=self.device, generator=self.generator)

    # -- rsl-rl interface -----------------------------------------------------------------------------------
    def get_observations(self) -> TensorDict:
        """The observations of the current step."""
        return self._obs

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        """Apply actions, advance one control step, reward, reset what ended, observe."""
        actions = actions.to(self.device)
        self.last_actions[:] = self.actions
        self.actions[:] = actions
        self.action_queue = torch.cat([actions[:, None], self.action_queue[:, :-1]], dim=1)
        applied = self.action_queue[torch.arange(self.num_envs, device=self.device), self.action_delay]
        self.sim.step(self.io.targets(applied), self._assist_wrench if self.assist.active else None)
        self.episode_length_buf += 1
        self._push()

        rewards, terms, errors = self._rewards()
        terminated = self._terminated(errors)
        time_out = (self.episode_length_buf >= self.max_episode_length) | (self._remaining() <= 0)
        dones = terminated | time_out
        self.assist.record(terminated)
        extras: dict[str, Any] = {"time_outs": time_out & ~terminated, "errors": errors, "log": {
            **{f"Reward/{k}": v.mean() for k, v in terms.items()},
            "Tracking/joint_error_rad": errors["joint"].mean(), "Tracking/keybody_error_m": errors["keybody"].mean(),
            "Tracking/root_vel_error_mps": errors["root_vel"].mean(),
            "Tracking/height_error_m": errors["height"].abs().mean(),
            "Episode/failure_rate": terminated.float().mean(),
            "Curriculum/assist_level": torch.tensor(self.assist.level),
        }}
        done_ids = torch.nonzero(dones).flatten()
        if len(done_ids):
            start = self.motion_start[done_ids]
            self.library.record_episodes(self.motion_ids[done_ids], start, start + self.episode_length_buf[done_ids],
                                         terminated[done_ids], self.max_episode_length)
            self._reset(done_ids)
        self.last_joint_vel[:] = self.sim.joint_vel()
        self._obs = self._observations(done_ids)
        return self._obs, rewards, dones.long(), extras

    # -- physics events ----------------------------------------------------------------------------------------
    def _assist_wrench(self) -> torch.Tensor:
        """The gantry's wrench from the current physics state (called every physics step)."""
        sim = self.sim
        return self.assist.wrench(sim.root_quat(), sim.root_ang_vel_body(), sim.root_pos()[:, 2],
                                  sim.root_lin_vel()[:, 2], self.library.root_pos[self._frame_index(), 2])

    def _push(self) -> None:
        t = self.episode_length_buf.float() * self.dt
        due = torch.nonzero(t >= self.next_push).flatten()
        if len(due) == 0 or self.cfg.push_velocity <= 0:
            return
        kick = torch.zeros(len(due), 3, device=self.device)
        kick[:, :2] = (torch.rand(len(due), 2, device=self.device, generator=self.generator) * 2 - 1) * \
            self.cfg.push_velocity
        self.sim.add_base_velocity(due, kick)
        self.next_push[due] = t[due] + self._push_time(len(due))

    # -- rewards and terminations ------------------------------------------------------------------------------
    def _robot(self) -> dict[str, torch.Tensor]:
        sim = self.sim
        quat = sim.root_quat()
        root = sim.root_pos()
        heading = tm.from_yaw(tm.yaw(quat))
        key = sim.key_body_pos()
        return {"pos": root, "quat": quat, "lin_vel_local": tm.rotate_inverse(quat, sim.root_lin_vel()),
                "ang_vel_local": sim.root_ang_vel_body(), "q": sim.joint_pos(), "dq": sim.joint_vel(),
                "key_yaw": tm.rotate_inverse(heading[:, None, :], key - root[:, None, :]),
                "key_local": tm.rotate_inverse(quat[:, None, :], key - root[:, None, :])}

    def _rewards(self) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The step's total reward, its weighted terms (``rewards.py``; weight 0: not computed), and the errors."""
        lib, cfg = self.library, self.cfg
        f = self._frame_index()
        robot = self._robot()
        pol = self.policy_idx
        tilt = roll_pitch(robot["quat"])
        key_err = torch.linalg.norm(robot["key_yaw"] - lib.key_body_yaw[f], dim=-1)
        force = self.sim.foot_force()
        contact = force > CONTACT_FORCE
        reference_q = lib.joint_pos[f][:, pol]
        state = StepState(
            dt=self.dt, dof_err=robot["q"][:, pol] - reference_q,
            dof_vel_err=(robot["dq"] - lib.joint_vel[f])[:, pol], dof_weights=self.dof_weights, leg_idx=self.leg_idx,
            upper_idx=self.upper_idx,
            ankle_idx=self.ankle_idx, height_err=robot["pos"][:, 2] - lib.root_pos[f, 2],
            tilt_err=tilt - roll_pitch(lib.root_quat[f]), vel_err=robot["lin_vel_local"] - lib.root_lin_vel_local[f],
            ang_vel_err=robot["ang_vel_local"] - lib.root_ang_vel_local[f], key_err=key_err,
            # the key bodies' yaw-frame z is their height above the pelvis: + the pelvis height = above the floor
            feet_height_err=(robot["pos"][:, 2:3] + robot["key_yaw"][:, self.ankle_keys, 2]) - (
                lib.root_pos[f, 2:3] + lib.key_body_yaw[f][:, self.ankle_keys, 2]),
            foot_force=force, contact=contact, foot_vel=self.sim.foot_vel(), q=robot["q"],
            dq_policy=robot["dq"][:, pol], joint_acc=((robot["dq"] - self.last_joint_vel) / self.dt)[:, pol],
            torque=self.sim.joint_torque(), effort=self.effort, soft_lower=self.soft_lower,
            soft_upper=self.soft_upper, actions=self.actions, last_actions=self.last_actions,
            air_term=self._air_time(contact, torch.linalg.norm(lib.root_lin_vel_local[f, :2], dim=-1) > 0.05),
            ang_vel_local=robot["ang_vel_local"],
            sigmas={"lin_vel": cfg.lin_vel_sigma, "yaw_rate": cfg.yaw_rate_sigma,
                    "feet_height": cfg.feet_height_sigma, "leg_dof": cfg.leg_dof_sigma,
                    "upper_dof": cfg.upper_dof_sigma})
        weighted = weighted_terms(state, dataclasses.asdict(cfg.rewards))
        total = torch.zeros(self.num_envs, device=self.device)
        if weighted:
            total = torch.stack(list(weighted.values())).sum(0)
        if cfg.only_positive_rewards:
            total = torch.clamp(total, min=0.0)
        errors = {"joint": state.dof_err.abs().mean(1), "keybody": key_err.mean(1), "key_max": key_err.max(1).values,
                  "dof": state.dof_err, "dof_reference": reference_q, "key_bodies": key_err,
                  "root_vel": torch.linalg.norm(state.vel_err[:, :2], dim=1), "height": state.height_err,
                  "tilt": tilt.abs().max(1).values,
                  "speed": torch.linalg.norm(self.sim.root_lin_vel(), dim=1)}
        return total, weighted, errors

    def _air_time(self, contact: torch.Tensor, moving: torch.Tensor) -> torch.Tensor:
        """Advance each foot's time in the air; TWIST's air-time value of the feet touching down now."""
        first_contact = (self.air_time > 0) & contact
        self.air_time += self.dt
        value = torch.sum(torch.clamp(self.air_time - self.cfg.air_time_target, max=0.0) * first_contact, dim=1)
        self.air_time *= ~contact
        return value * moving

    def _terminated(self, errors: dict[str, torch.Tensor]) -> torch.Tensor:
        cfg = self.cfg
        bad = (errors["tilt"] > cfg.max_tilt) | (errors["height"].abs() > cfg.max_height_error) | \
            (errors["key_max"] > cfg.max_keybody_error) | (errors["speed"] > cfg.max_speed)
        bad |= ~torch.isfinite(self.sim.qpos()).all(1)
        return bad & (self.episode_length_buf > 1)

    # -- observations -------------------------------------------------------------------------------------------
    def _noise(self, shape: tuple[int, ...], scale: float) -> torch.Tensor:
        return (torch.rand(shape, device=self.device, generator=self.generator) * 2 - 1) * scale

    def _student_frame(self) -> torch.Tensor:
        cfg, lib = self.cfg, self.library
        f = self._frame_index()
        n, j = self.num_envs, self.spec.num_joints
        imu = self.sim.imu_quat()
        tilt_noise = self._noise((n, 2), cfg.noise_tilt)
        imu = tm.multiply(imu, tm.from_roll_pitch(tilt_noise))  # sensor noise on the measured tilt
        return self.io.frame(
            lib.root_pos[f, 2], lib.root_quat[f], lib.root_lin_vel_local[f], lib.root_ang_vel_local[f, 2],
            lib.joint_pos[f], self.sim.imu_gyro() + self._noise((n, 3), cfg.noise_gyro), imu,
            self.sim.joint_pos() + self._noise((n, j), cfg.noise_joint_pos),
            self.sim.joint_vel() + self._noise((n, j), cfg.noise_joint_vel), self.actions)

    def _future_frames(self) -> torch.Tensor:
        lib = self.library
        now = self._frame_index()
        index = self.library.index(self.motion_ids[:, None].expand(-1, len(self.future)),
                                   (self.motion_start + self.episode_length_buf)[:, None] + self.future[None])
        quat = lib.root_quat[index]
        heading = tm.wrap(tm.yaw(quat) - tm.yaw(lib.root_quat[now])[:, None])
        parts = [lib.root_pos[index, 2:3], roll_pitch(quat), heading[..., None], lib.root_lin_vel_local[index],
                 lib.root_ang_vel_local[index, 2:3], lib.joint_pos[index][..., self.policy_idx],
                 lib.key_body_yaw[index].flatten(-2)]
        return torch.cat(parts, dim=-1).flatten(1)

    def _privileged(self) -> torch.Tensor:
        robot = self._robot()
        contact = (self.sim.foot_force() > CONTACT_FORCE).float()
        return torch.cat([robot["lin_vel_local"], robot["pos"][:, 2:3], robot["key_local"].flatten(1), contact,
                          self.sim.variant_params()], dim=1)

    def _observations(self, reset_ids: torch.Tensor) -> TensorDict:
        frame = self._student_frame()
        if self.history is None:
            self.history = History(frame)
        elif len(reset_ids):
            self.history.reset(reset_ids, frame[reset_ids])
        student = self.history.observation(frame)
        teacher = torch.cat([self._future_frames(), frame, self._privileged()], dim=1)
        assist = torch.full((self.num_envs, 1), self.assist.level, device=self.device)
        return TensorDict({"student": student, "teacher": teacher, "assist": assist}, batch_size=[self.num_envs],
                          device=self.device)


def _dof_weight(name: str) -> float:
    for key, weight in DOF_ERROR_WEIGHTS.items():
        if key in name:
            return weight
    return 1.0
