"""The walking pattern generator: preview control, gait plan, whole-body motion, quality metrics."""

import numpy as np
import pytest

from twist_training.walking.gait import LEFT, RIGHT, GaitConfig, plan_gait
from twist_training.walking.generator import WalkGenerator
from twist_training.walking.lipm import com_from_zmp, preview_gains
from twist_training.walking.quality import QualityMeter


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
