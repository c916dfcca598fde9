"""walk-physics-check: whether a generated walk holds up in physics, with no learning at all.

A PD tracker with feed-forward torques from contact-consistent inverse dynamics follows a generated walk in the
same MuJoCo simulation the bridge uses (twist_core.sim: floor, contacts, torque limits, no gantry). Feed-forward
torques: MuJoCo inverse dynamics of the kinematic motion gives the generalized forces; the part the floating
base needs is assigned to the stance feet as contact wrenches (least norm), and the joints get the rest.
Joint PD alone cannot balance an inverted pendulum (measured: even standing, it tips over after ~4 s with the
config gains), so the stance ankles add a stabilizer: torque against the pelvis roll/pitch error and its rate
(``--ankle-k``, ``--ankle-d``), split between the stance feet.

    walk-physics-check [--speed 0.5] [--seconds 10] [--kp-scale 2.0] [--ankle-k 100] [--ankle-d 10]

Prints whether the robot fell, for how long it walked, how far it went against the reference and the tracking
errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import mujoco
import numpy as np

from twist_core import rotations
from twist_core.model import joint_dof_addresses, load_model, motion_qpos
from twist_core.motion import Motion
from twist_core.robot import RobotSpec, load_robot_spec
from twist_core.safety import JointTargets
from twist_core.sim import G1Sim
from twist_training.walking.gait import GaitPlan
from twist_training.walking.quality import generalized_derivatives


@dataclasses.dataclass
class CheckResult:
    """Outcome of one physical check."""

    fell: bool
    walked_seconds: float
    reference_distance: float
    achieved_distance: float
    final_position_error: float
    joint_rms_error: float


def feedforward_torques(spec: RobotSpec, motion: Motion, plan: GaitPlan, model: mujoco.MjModel) -> np.ndarray:
    """Joint torques (T, 29, motor order) that realize the motion with contact wrenches at the stance feet."""
    data = mujoco.MjData(model)
    dadr = joint_dof_addresses(spec, model)
    qpos = motion_qpos(spec, model, motion.root_pos, motion.root_quat, motion.joint_pos)
    qvel, qacc = generalized_derivatives(model, qpos, motion.fps)
    feet = [model.body(name).id for name in spec.model.feet]
    jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
    torques = np.zeros((motion.num_frames, spec.num_joints))
    for k in range(motion.num_frames):
        data.qpos[:], data.qvel[:], data.qacc[:] = qpos[k], qvel[k], qacc[k]
        mujoco.mj_inverse(model, data)
        rows = []
        for f, body in enumerate(feet):
            if plan.stance[k, f]:
                mujoco.mj_jacBody(model, data, jacp, jacr, body)
                rows += [jacp.copy(), jacr.copy()]
        generalized = data.qfrc_inverse.copy()
        if rows:
            contact_jacobian = np.vstack(rows)  # contact wrenches (force, torque) at the ankles
            wrench = np.linalg.lstsq(contact_jacobian[:, :6].T, generalized[:6], rcond=None)[0]
            generalized -= contact_jacobian.T @ wrench
        torques[k] = generalized[dadr]
    return np.clip(torques, -spec.effort_limits, spec.effort_limits)


def track(spec: RobotSpec, motion: Motion, plan: GaitPlan, kp_scale: float = 2.0, kd_scale: float = 2.0,
          ankle_k: float = 100.0, ankle_d: float = 10.0, physics_rate: float = 500.0) -> CheckResult:
    """Run the PD + feed-forward tracker with the ankle stabilizer on the motion in MuJoCo."""
    sim = G1Sim(spec, physics_rate=physics_rate)
    ankles = [(spec.joint_index(f"{side}_ankle_roll_joint"), spec.joint_index(f"{side}_ankle_pitch_joint"))
              for side in ("left", "right")]  # in the order of spec.model.feet
    attitude = rotations.roll_pitch_yaw(motion.root_quat)[:, :2]
    rate = motion.root_ang_vel_local()[:, :2]
    sim.reset(q=motion.joint_pos[0], dq=motion.joint_vel[0], base_pos=motion.root_pos[0] + [0, 0, 0.002],
              base_quat_wxyz=motion.root_quat[0])
    sim.set_gantry(False)
    tau = feedforward_torques(spec, motion, plan, load_model(spec, spec.model.robot_entry))
    substeps = int(round(physics_rate / motion.fps))
    positions, errors = [], []
    fell_at = None
    for k in range(motion.num_frames):
        state = sim.state()
        positions.append(state.base_pos[:2].copy())
        errors.append(state.q - motion.joint_pos[k])
        roll, pitch = state.roll_pitch
        if state.height < 0.5 or max(abs(roll), abs(pitch)) > 0.8:
            fell_at = k
            break
        # stabilizer: ankle torque against the pelvis attitude error (roll, pitch) and its rate
        attitude_error = np.array([roll, pitch]) - attitude[k]
        correction = ankle_k * attitude_error + ankle_d * (state.base_ang_vel_body[:2] - rate[k])
        effort = tau[k].copy()
        stance = plan.stance[k]
        for foot in np.flatnonzero(stance):
            effort[list(ankles[foot])] += correction / stance.sum()
        sim.set_targets(JointTargets(position=motion.joint_pos[k], velocity=motion.joint_vel[k],
                                     kp=kp_scale * spec.kp, kd=kd_scale * spec.kd, effort=effort))
        sim.step(substeps)
    positions = np.array(positions)
    last = len(positions) - 1
    reference_path = np.linalg.norm(np.diff(motion.root_pos[:, :2], axis=0), axis=1).sum()
    achieved_path = np.linalg.norm(np.diff(positions, axis=0), axis=1).sum()
    return CheckResult(fell=fell_at is not None, walked_seconds=last / motion.fps,
                       reference_distance=float(reference_path), achieved_distance=float(achieved_path),
                       final_position_error=float(np.linalg.norm(positions[-1] - motion.root_pos[last, :2])),
                       joint_rms_error=float(np.sqrt(np.mean(np.square(errors)))))


def main(argv: list[str] | None = None) -> int:
    """Generate a straight walk and track it in physics."""
    from twist_training.walking.generator import WalkGenerator

    parser = argparse.ArgumentParser(prog="walk-physics-check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--speed", type=float, default=0.5, help="forward command [m/s]")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--kp-scale", type=float, default=2.0, help="PD stiffness = config kp times this")
    parser.add_argument("--kd-scale", type=float, default=2.0, help="PD damping = config kd times this")
    parser.add_argument("--ankle-k", type=float, default=100.0, help="stabilizer stiffness [N*m/rad]")
    parser.add_argument("--ankle-d", type=float, default=10.0, help="stabilizer damping [N*m*s/rad]")
    args = parser.parse_args(argv)
    spec = load_robot_spec()
    n = int(round(args.seconds * 50)) + 1
    command = np.tile([args.speed, 0.0, 0.0], (n, 1))
    motion, plan = WalkGenerator(spec).generate(command)
    result = track(spec, motion, plan, args.kp_scale, args.kd_scale, args.ankle_k, args.ankle_d)
    heading = float(np.degrees(rotations.yaw(motion.root_quat[-1])))
    print(f"{'fell':<28} {'yes' if result.fell else 'no'}")
    print(f"{'walked':<28} {result.walked_seconds:.2f} s of {motion.duration:.2f} s")
    print(f"{'distance (pelvis path)':<28} {result.achieved_distance:.2f} m of {result.reference_distance:.2f} m")
    print(f"{'final position error':<28} {result.final_position_error:.3f} m (reference heading {heading:.1f} deg)")
    print(f"{'joint RMS tracking error':<28} {result.joint_rms_error:.3f} rad")
    return 1 if result.fell else 0


if __name__ == "__main__":
    sys.exit(main())
