"""The walking pattern generator: preview control, gait plan, whole-body motion, quality metrics."""

import numpy as np
import pytest

from twist_training.walking.gait import LEFT, RIGHT, GaitConfig, plan_gait, rolled_ankle
from twist_training.walking.generator import WalkGenerator
from twist_training.walking.lipm import com_from_zmp, preview_gains
from twist_training.walking.quality import QualityMeter, support_distance


@pytest.fixture(scope="module")
def generator(spec):
    """One generator for the module (IK model, preview gains)."""
    return WalkGenerator(spec)


@pytest.fixture(scope="module")
def meter(spec):
    """The quality meter."""
    return QualityMeter(spec)


def test_preview_control_tracks_the_zmp(spec):
    """The pendulum's ZMP follows a swaying reference within 5 mm, and the CoM comes to rest over the last ZMP."""
    gains = preview_gains(0.02, 0.67)
    t = np.arange(400) * 0.02
    reference = 0.1 * np.sin(2 * np.pi * 0.8 * t) * (t > 1.0) * (t < 6.0)
    states, zmp = com_from_zmp(reference, gains)
    steady = (t > 1.5) & (t < 5.5)  # away from the kinks where the sway starts and stops
    assert np.max(np.abs(zmp - reference)[steady]) < 0.005
    assert abs(states[-1, 0]) < 1e-3 and abs(states[-1, 1]) < 1e-3
    # the CoM swings less than the ZMP (inverted pendulum) and leads it (preview)
    assert np.max(np.abs(states[:, 0])) < 0.1


def test_gait_plan_walks_forward(spec):
    """At 0.5 m/s: feet alternate, never both in the air, each lands where the body will be."""
    command = np.tile([0.5, 0.0, 0.0], (400, 1))
    plan = plan_gait(command, 50.0, GaitConfig())
    assert len(plan.steps) >= 10
    assert [s.foot for s in plan.steps[:4]] in ([LEFT, RIGHT, LEFT, RIGHT], [RIGHT, LEFT, RIGHT, LEFT])
    assert np.all(plan.stance.any(axis=1)), "both feet in the air"
    lengths = [s.to_pose[0] - s.from_pose[0] for s in plan.steps[4:-1]]
    step_time = GaitConfig().step_time(command[0])
    np.testing.assert_allclose(lengths, 2 * 0.5 * step_time, rtol=0.05)  # each foot moves two steps' worth
    single = ~plan.stance[:, LEFT] & plan.stance[:, RIGHT]
    right_centre = plan.feet[single, RIGHT, :2] + np.array([0.035, 0.0])
    np.testing.assert_allclose(plan.zmp[single], right_centre, atol=1e-9)  # ZMP on the stance foot


def _edge(plan, config, foot, x):
    """World (x, y, z) of the foot's edge ``x`` ahead of the ankle (at the spheres' centres) over the plan."""
    ankle = plan.feet[:, foot]
    c, s = np.cos(ankle[:, 4]), np.sin(ankle[:, 4])
    forward = x * c - config.sole_depth * s
    return np.column_stack([ankle[:, 0] + np.cos(ankle[:, 3]) * forward, ankle[:, 1] + np.sin(ankle[:, 3]) * forward,
                            ankle[:, 2] - x * s - config.sole_depth * c])


def test_long_steps_roll_the_feet_about_their_edges(spec):
    """At 1.5 m/s a foot lifts off heel-up about its toe and lands toe-up on its heel; at 0.5 m/s it stays flat."""
    config = GaitConfig()
    slow = plan_gait(np.tile([0.5, 0.0, 0.0], (300, 1)), 50.0, config)
    assert np.all(slow.feet[..., 4] == 0.0) and all(s.roll == 0.0 for s in slow.steps)
    plan = plan_gait(np.tile([1.5, 0.0, 0.0], (400, 1)), 50.0, config)
    t = np.arange(400) / 50.0
    rolling = [s for s in plan.steps if s.roll == 1.0 and s.flat < t[-1]]
    assert len(rolling) >= 6
    for step in rolling:
        f = step.foot
        lift, land = int(np.ceil(step.lift * 50)), int(np.ceil(step.land * 50))
        assert plan.feet[lift, f, 4] > 0.0 and plan.feet[land - 1, f, 4] < -0.1  # toe down, then toe up
        toe, heel = _edge(plan, config, f, config.toe_x), _edge(plan, config, f, config.heel_x)
        rise = (t >= step.heel_off) & (t <= step.lift)
        down = (t >= step.land) & (t <= step.flat)
        assert np.ptp(toe[rise], axis=0).max() < 1e-9, "the toe edge moves while the heel rises"
        assert np.ptp(heel[down], axis=0).max() < 1e-9, "the heel edge moves while the foot rolls flat"
        np.testing.assert_allclose(np.r_[toe[rise, 2], heel[down, 2]], -config.sole_depth, atol=1e-12)  # on the floor
    # the edge a rolling foot stands on is where the flat foot had it
    flat = plan.feet[..., :4].copy()
    np.testing.assert_allclose(rolled_ankle(flat, np.zeros((400, 2)), np.zeros((400, 2)), config), flat[..., :3])


def test_roll_edges_match_the_model(spec, generator):
    """The gait's toe and heel edges are where the model's foot collision spheres are."""
    from twist_core.model import foot_spheres

    config, model = GaitConfig(), generator.ik.model
    for spheres in foot_spheres(spec, model):
        x, z = model.geom_pos[spheres, 0], model.geom_pos[spheres, 2]
        assert x.max() == pytest.approx(config.toe_x) and x.min() == pytest.approx(config.heel_x)
        np.testing.assert_allclose(z, -config.sole_depth)


def test_support_distance_handles_edges():
    """Hull, segment (one foot on one edge) and point supports."""
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1.0]])
    assert support_distance(square, np.array([0.5, 0.5])) == pytest.approx(-0.5)
    assert support_distance(square, np.array([1.2, 0.5])) == pytest.approx(0.2)
    edge = np.array([[0.12, 0.03], [0.12, -0.03]])
    assert support_distance(edge, np.array([0.12, 0.0])) == pytest.approx(0.0)
    assert support_distance(edge, np.array([0.10, 0.0])) == pytest.approx(0.02)
    assert support_distance(edge, np.array([0.12, 0.07])) == pytest.approx(0.04)
    assert support_distance(edge[:1], np.array([0.12, 0.0])) == pytest.approx(0.03)
    assert support_distance(np.zeros((0, 2)), np.zeros(2)) == np.inf


def test_rolling_feet_reach_the_ankles(spec, generator, meter):
    """The IK pitches the feet as planned (the ankle pitch follows) and the heel edge carries the landing foot."""
    import mujoco

    timeline = np.zeros((301, 3))
    timeline[50:] = [1.5, 0.0, 0.0]
    motion, plan = generator.generate(timeline)
    qpos = meter._qpos(motion)
    pitch = np.empty((len(qpos), 2))
    model, data = generator.ik.model, generator.ik.data
    for k, q in enumerate(qpos):
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        for f, body in enumerate(generator.ik.feet):
            pitch[k, f] = -np.arcsin(np.clip(data.xmat[body].reshape(3, 3)[2, 0], -1, 1))
    assert np.abs(pitch - plan.feet[..., 4]).max() < 0.02
    assert plan.feet[..., 4].max() > 0.4 and plan.feet[..., 4].min() < -0.15
    points, _ = meter._feet(qpos)
    touching = plan.stance[:, :, None] & (points[..., 2] <= meter.targets.contact_height)
    # sphere order: heel pair, then toe pair (the G1 model); at 1.5 m/s the rear heel rises within the one frame
    # of double support before lift-off, so the frames that catch a foot on one edge are the heel landings
    heel_only = touching[..., :2].all(axis=-1) & ~touching[..., 2:].any(axis=-1)
    assert heel_only.sum() >= 4, "no stance frame on the heel edge"
    assert meter.measure(motion, plan).failures(meter.targets) == []


def test_pelvis_turns_with_the_stride(spec, generator, meter):
    """At 1.75 m/s the pelvis yaws with the stride, the waist counter-rotates it, and the walk meets the targets."""
    from twist_core.rotations import yaw

    timeline = np.zeros((401, 3))
    timeline[50:] = [1.75, 0.0, 0.0]
    motion, plan = generator.generate(timeline)
    assert meter.measure(motion, plan).failures(meter.targets) == []
    walking = slice(200, 400)
    stride = np.array([generator.stride(plan, k) for k in range(200, 400)])
    pelvis = np.unwrap(yaw(motion.root_quat))[walking] - plan.body[walking, 2]
    np.testing.assert_allclose(pelvis, generator.config.pelvis_yaw * stride, atol=0.01)
    assert np.abs(pelvis).max() > 0.1
    waist = motion.joint_pos[walking, spec.joint_index("waist_yaw_joint")]
    np.testing.assert_allclose(waist, -pelvis, atol=0.02)  # the torso keeps the heading


def test_standing_command_takes_no_step(spec):
    """A zero command keeps both feet on the ground and the ZMP between them."""
    plan = plan_gait(np.zeros((200, 3)), 50.0)
    assert plan.steps == [] and plan.stance.all()
    np.testing.assert_allclose(plan.zmp, np.broadcast_to(plan.zmp[0], plan.zmp.shape))


@pytest.mark.parametrize("command", [[0.5, 0.0, 0.0], [1.5, 0.0, 0.0], [0.0, 0.3, 0.0], [0.3, 0.0, 0.6]], ids=str)
def test_generated_walk_meets_the_quality_targets(spec, generator, meter, command):
    """Short walks: no stance slip, ZMP in the support polygon, velocity as commanded, limits respected."""
    timeline = np.zeros((301, 3))
    timeline[50:] = command
    motion, plan = generator.generate(timeline, metadata={"test": True})
    quality = meter.measure(motion, plan)
    assert quality.failures(meter.targets) == [], quality
    assert quality.velocity_windows == 1, "the velocity was not measured"
    assert motion.fps == 50.0 and motion.num_frames == 301
    np.testing.assert_array_equal(motion.command, timeline)
    assert motion.metadata["generator"] == "twist_training.walking" and motion.metadata["test"] is True


@pytest.mark.parametrize("command", [[1.0, 0.0, 0.0], [0.0, 0.3, 0.0]], ids=str)
def test_leg_odometry_follows_a_generated_walk(spec, generator, command):
    """twist_core's leg odometry on a generated walk (feet that roll about their toes and heels, no slip) walks the
    distance the pelvis walks within 2 %, and its velocity in the heading frame of each moment (the pelvis yaws with
    the stride) reads what the pelvis' own does within 2 %."""
    from twist_core.odometry import HeadingVelocity, LegOdometry, OdometryEstimate

    timeline = np.zeros((401, 3))
    timeline[50:] = command
    motion, _ = generator.generate(timeline)
    odometry, measured, true = LegOdometry(spec), HeadingVelocity(), HeadingVelocity()
    positions, velocities, true_velocities = [], [], []
    for k in range(motion.num_frames):
        estimate = odometry.update(k / motion.fps, motion.joint_pos[k], motion.root_quat[k])
        velocity = measured.update(estimate)
        true_velocity = true.update(OdometryEstimate(k / motion.fps, motion.root_pos[k], motion.root_quat[k],
                                                     np.zeros(3), 0))
        positions.append(estimate.position[:2])
        if k > 150:  # walking steadily
            velocities.append(velocity)
            true_velocities.append(true_velocity)
    walked = motion.root_pos[-1, :2] - motion.root_pos[150, :2]
    estimated = positions[-1] - positions[150]
    assert np.linalg.norm(estimated - walked) < 0.02 * np.linalg.norm(walked), (estimated, walked)
    speed = np.linalg.norm(command[:2])
    np.testing.assert_allclose(np.mean(velocities, axis=0), np.mean(true_velocities, axis=0), atol=0.02 * speed)


def test_velocity_is_judged_away_from_command_changes(spec, generator, meter):
    """Turning in place, then a fast walk: the CoM anticipating the change is not counted as a velocity error.

    The preview controller starts moving the CoM towards the next command ~0.5 s before it; the stop of a fast walk
    takes (speed / max acceleration) s. Both windows are measured, each away from those transients.
    """
    timeline = np.zeros((501, 3))
    timeline[50:275] = [0.0, 0.0, 0.16]
    timeline[275:] = [1.0, 0.0, 0.0]
    motion, plan = generator.generate(timeline)
    quality = meter.measure(motion, plan)
    assert quality.failures(meter.targets) == [], quality
    assert quality.velocity_windows == 2
    assert quality.velocity_error < 0.02  # 0.3 %; counting the anticipation in gives 4.4 %


def test_quality_meter_catches_slip_and_penetration(spec, generator, meter):
    """Moving a stance foot, or sinking the robot, is reported."""
    timeline = np.tile([0.4, 0.0, 0.0], (251, 1))
    motion, plan = generator.generate(timeline)
    stance = np.flatnonzero(plan.stance[:, LEFT] & ~plan.stance[:, RIGHT])
    middle = stance[len(stance) // 2]
    motion.root_pos[middle:middle + 3, 0] += 0.02  # the whole robot, stance foot included, jumps 2 cm
    motion.root_pos[:, 2] -= 0.005
    failures = meter.measure(motion, plan).failures(meter.targets)
    assert any("stance slip" in f for f in failures)
    assert any("penetration" in f for f in failures)
