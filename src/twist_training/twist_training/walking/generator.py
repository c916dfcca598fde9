"""The walking pattern generator: command timeline -> canonical G1 motion at 50 Hz.

Pipeline: :func:`~twist_training.walking.gait.plan_gait` (footsteps, swing feet, ZMP reference) ->
:func:`~twist_training.walking.lipm.com_from_zmp` (CoM by ZMP preview control, Kajita et al. 2003) ->
:class:`~twist_training.walking.ik.WholeBodyIK` per frame (CoM, level pelvis at a speed-dependent height turning
with the stride, rolling feet, upright torso at the heading, default posture with arm swing) ->
:func:`twist_core.motion.build_motion` (velocities, FK key bodies).
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from twist_core.model import standing_height
from twist_core.motion import Motion, build_motion
from twist_core.robot import RobotSpec
from twist_training.walking.gait import GaitConfig, GaitPlan, plan_gait
from twist_training.walking.ik import IKTargets, IKWeights, WholeBodyIK
from twist_training.walking.lipm import com_from_zmp, preview_gains
from twist_training.walking.quality import QualityMeter


@dataclasses.dataclass(frozen=True)
class WalkConfig:
    """Everything that shapes a generated walk."""

    gait: GaitConfig = GaitConfig()
    ik: IKWeights = IKWeights()
    pelvis_drop: float = 0.02       # walk this much below the standing height (knee reach margin) ...
    pelvis_drop_fast: float = 0.085  # ... and this much at gait.fast_speed (longer steps need a lower hip)
    arm_swing: float = 0.8      # shoulder pitch [rad] per metre of fore-aft foot separation
    # pelvis_yaw: pelvis yaw [rad] per metre of it, the front foot's hip forward (the waist counter-rotates: the
    # torso keeps the heading)
    pelvis_yaw: float = 0.3
    preview_horizon: float = 1.6
    tail: float = 1.5               # generate this much beyond the clip (steps and ZMP preview need a future)
    zmp_passes: int = 8             # multibody ZMP corrections of the CoM (0: the LIPM CoM as it is)
    max_zmp_correction: float = 0.15  # m: bound on the ZMP error a pass corrects (keeps the IK reachable)
    ik_iterations: int = 8          # IK iterations per frame in the first pass
    refine_iterations: int = 4      # IK iterations per frame in the correction passes (they start close)


class WalkGenerator:
    """Generates walks for one robot; reusable across clips (the IK model and preview gains are built once)."""

    def __init__(self, spec: RobotSpec, config: WalkConfig | None = None, fps: float = 50.0) -> None:
        """Measure the standing geometry and prepare the IK and the preview controller."""
        self.spec, self.config, self.fps = spec, config or WalkConfig(), fps
        self.ik = WholeBodyIK(spec, self.config.ik)
        self.ankle_height = self.ik.ankle_height()
        self.stand_height = standing_height(spec, spec.default_pose)
        self.pelvis_height = self.stand_height - self.config.pelvis_drop
        self.com_height = self._com_height()
        self.gains = preview_gains(1.0 / fps, self.com_height, self.config.preview_horizon)
        self.zmp_meter = QualityMeter(spec)
        i = spec.joint_index
        self._shoulders = (i("left_shoulder_pitch_joint"), i("right_shoulder_pitch_joint"))

    def _com_height(self) -> float:
        model, data = self.ik.model, mujoco.MjData(self.ik.model)
        data.qpos[:7] = [0, 0, self.pelvis_height, 1, 0, 0, 0]
        data.qpos[self.ik.qadr] = self.spec.default_pose
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        return float(data.subtree_com[self.ik.root][2])

    def _solve(self, plan: GaitPlan, com: np.ndarray, heights: np.ndarray) -> np.ndarray:
        """Whole-body IK of every frame of the plan (qpos rows)."""
        qpos0 = np.zeros(self.ik.model.nq)
        qpos0[:7] = [com[0, 0], com[0, 1], heights[0], 1, 0, 0, 0]
        qpos0[self.ik.qadr] = self.spec.default_pose
        self.ik.reset(qpos0)
        frames = np.empty((len(com), self.ik.model.nq))
        for k in range(len(com)):
            feet = plan.feet[k].copy()
            feet[:, 2] += self.ankle_height
            targets = IKTargets(com[k], heights[k], plan.body[k, 2], feet, self.posture(plan, k),
                                self.config.pelvis_yaw * self.stride(plan, k))
            if k == 0:
                for _ in range(10):  # converge the first frame from the default pose
                    self.ik.solve(targets)
            frames[k] = self.ik.solve(targets)
        return frames

    def pelvis_heights(self, command: np.ndarray, time_constant: float = 0.5) -> np.ndarray:
        """Pelvis height per frame: lower at higher commanded speed (low-passed so it never jumps)."""
        speed = np.hypot(command[:, 0], command[:, 1])
        alpha = 1.0 / (1.0 + time_constant * self.fps)
        smoothed = np.empty_like(speed)
        level = 0.0
        for k, v in enumerate(speed):
            level += alpha * (v - level)
            smoothed[k] = level
        fraction = np.minimum(smoothed / self.config.gait.fast_speed, 1.0)
        drop = self.config.pelvis_drop + (self.config.pelvis_drop_fast - self.config.pelvis_drop) * fraction
        return self.stand_height - drop

    @staticmethod
    def stride(plan: GaitPlan, k: int) -> float:
        """Fore-aft separation of the feet along the heading at frame ``k`` (right ahead of left > 0)."""
        yaw = plan.body[k, 2]
        return float((plan.feet[k, 1, :2] - plan.feet[k, 0, :2]) @ np.array([np.cos(yaw), np.sin(yaw)]))

    def posture(self, plan: GaitPlan, k: int) -> np.ndarray:
        """Default pose with arm swing opposite to the legs."""
        separation = self.stride(plan, k)
        posture = np.array(self.spec.default_pose)
        left, right = self._shoulders
        posture[left] -= self.config.arm_swing * separation
        posture[right] += self.config.arm_swing * separation
        return np.clip(posture, self.spec.lower_limits, self.spec.upper_limits)

    def generate(self, command: np.ndarray, metadata: dict | None = None) -> tuple[Motion, GaitPlan]:
        """The motion following a command timeline (T, 3) sampled at ``fps``, and its gait plan.

        The plan is made for the timeline extended by ``tail`` seconds of its last command and then cut, so the
        clip ends mid-walk like a window of a longer walk instead of with a truncated last step.
        """
        clip_frames = len(command)
        extra = np.repeat(command[-1:], int(round(self.config.tail * self.fps)), axis=0)
        command = np.concatenate([command, extra])
        plan = plan_gait(command, self.fps, dataclasses.replace(self.config.gait, com_height=self.com_height))
        heights = self.pelvis_heights(command)
        com = np.column_stack([com_from_zmp(plan.zmp[:, axis], self.gains)[0][:, 0] for axis in (0, 1)])
        self.ik.iterations = self.config.ik_iterations
        frames = self._solve(plan, com, heights)
        self.ik.iterations = self.config.refine_iterations
        for _ in range(self.config.zmp_passes):
            # Dynamics filter (Kajita et al. 2003, sec. IV): the multibody ZMP differs from the pendulum's; move
            # the CoM by the preview controller's answer to the opposite of that difference, and solve again.
            error = np.clip(self.zmp_meter.zmp(frames, self.fps) - plan.zmp, -self.config.max_zmp_correction,
                            self.config.max_zmp_correction)
            com = com + np.column_stack([com_from_zmp(-error[:, axis], self.gains, np.zeros(3))[0][:, 0]
                                         for axis in (0, 1)])
            frames = self._solve(plan, com, heights)
        frames = frames[:clip_frames]
        meta = dict(metadata or {}, generator="twist_training.walking", com_height=self.com_height)
        motion = build_motion(self.spec, self.fps, frames[:, :3], frames[:, 3:7], frames[:, self.ik.qadr],
                              command=command[:clip_frames], metadata=meta)
        return motion, plan.cropped(clip_frames)
