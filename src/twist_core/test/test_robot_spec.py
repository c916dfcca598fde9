"""The robot spec: joint order, the 29 <-> 23 maps and the mirror map, pinned by hand."""

import numpy as np
import pytest

# Unitree motor order, written out by hand (shared/notes/anchors-twist-cmg.md C.8).
MOTOR_ORDER = [
    "left_hip_pitch_joint", "left_hip_roll_joint", "left_hip_yaw_joint", "left_knee_joint",
    "left_ankle_pitch_joint", "left_ankle_roll_joint",
    "right_hip_pitch_joint", "right_hip_roll_joint", "right_hip_yaw_joint", "right_knee_joint",
    "right_ankle_pitch_joint", "right_ankle_roll_joint",
    "waist_yaw_joint", "waist_roll_joint", "waist_pitch_joint",
    "left_shoulder_pitch_joint", "left_shoulder_roll_joint", "left_shoulder_yaw_joint", "left_elbow_joint",
    "left_wrist_roll_joint", "left_wrist_pitch_joint", "left_wrist_yaw_joint",
    "right_shoulder_pitch_joint", "right_shoulder_roll_joint", "right_shoulder_yaw_joint", "right_elbow_joint",
    "right_wrist_roll_joint", "right_wrist_pitch_joint", "right_wrist_yaw_joint",
]
WRISTS = {"left_wrist_roll_joint", "left_wrist_pitch_joint", "left_wrist_yaw_joint",
          "right_wrist_roll_joint", "right_wrist_pitch_joint", "right_wrist_yaw_joint"}
# TWIST's 29 -> 23 selection: [0..18] + [22..25].
POLICY_INDICES = list(range(19)) + [22, 23, 24, 25]
# CMG's mirror: legs 0-5 <-> 6-11, arms 15-21 <-> 22-28, and these indices negated.
MIRROR_PERMUTATION = list(range(6, 12)) + list(range(6)) + [12, 13, 14] + list(range(22, 29)) + list(range(15, 22))
NEGATED = {1, 2, 5, 7, 8, 11, 12, 13, 16, 17, 19, 21, 23, 24, 26, 28}


def test_joint_order_is_unitree_motor_order(spec):
    """29 joints in motor order with the menagerie model's joint names."""
    assert list(spec.joint_names) == MOTOR_ORDER
    assert spec.num_joints == 29


def test_policy_subset_excludes_exactly_the_six_wrists(spec):
    """The 23-joint policy subset is motor order minus the wrists."""
    assert spec.num_policy_joints == 23
    assert set(spec.joint_names) - set(spec.policy_joint_names) == WRISTS
    assert spec.policy_indices.tolist() == POLICY_INDICES
    assert spec.excluded_indices.tolist() == [19, 20, 21, 26, 27, 28]


def test_policy_maps_round_trip(spec):
    """to_policy then from_policy restores policy joints; the others take the fill value."""
    rng = np.random.default_rng(0)
    full = rng.normal(size=(5, 29))
    back = spec.from_policy(spec.to_policy(full))
    np.testing.assert_array_equal(back[:, spec.policy_indices], full[:, spec.policy_indices])
    np.testing.assert_array_equal(back[:, spec.excluded_indices],
                                  np.broadcast_to(spec.default_pose[spec.excluded_indices], (5, 6)))
    np.testing.assert_array_equal(spec.from_policy(np.ones(23), fill=0.0)[spec.excluded_indices], np.zeros(6))


def test_policy_maps_reject_wrong_sizes(spec):
    """A 23-vector where 29 is expected (and vice versa) is an error, not a silent slice."""
    with pytest.raises(ValueError, match="last dimension 29"):
        spec.to_policy(np.zeros(23))
    with pytest.raises(ValueError, match="last dimension 23"):
        spec.from_policy(np.zeros(29))
    with pytest.raises(ValueError, match="last dimension 29"):
        spec.mirror(np.zeros(28))


def test_mirror_map_matches_hand_written_expectation(spec):
    """Which joints swap and which negate, as CMG's mirroring defines them."""
    assert spec.mirror_permutation.tolist() == MIRROR_PERMUTATION
    assert {i for i, s in enumerate(spec.mirror_signs) if s < 0} == NEGATED


def test_mirror_twice_is_identity(spec):
    """Reflecting twice gives back the original, for batches too."""
    x = np.random.default_rng(1).normal(size=(7, 29))
    np.testing.assert_array_equal(spec.mirror(spec.mirror(x)), x)


def test_default_pose_is_symmetric_and_within_limits(spec):
    """The default pose is its own mirror image and lies inside every joint range."""
    np.testing.assert_allclose(spec.mirror(spec.default_pose), spec.default_pose)
    assert np.all(spec.default_pose >= spec.lower_limits)
    assert np.all(spec.default_pose <= spec.upper_limits)


def test_gains_and_defaults_are_twist_values(spec):
    """A few values pinned by hand: knee 150/4, ankle 40/2, arm default, wrist gains."""
    i = spec.joint_index
    assert (spec.kp[i("left_knee_joint")], spec.kd[i("left_knee_joint")]) == (150.0, 4.0)
    assert (spec.kp[i("right_ankle_roll_joint")], spec.kd[i("right_ankle_roll_joint")]) == (40.0, 2.0)
    assert spec.default_pose[i("left_elbow_joint")] == 1.2
    assert spec.default_pose[i("right_shoulder_roll_joint")] == -0.4
    assert spec.kp[i("left_wrist_yaw_joint")] == 20.0


def test_spec_arrays_are_read_only(spec):
    """Nobody can change the shared default pose or gains in place."""
    with pytest.raises(ValueError):
        spec.default_pose[0] = 1.0
    with pytest.raises(ValueError):
        spec.kp[0] = 1.0


def test_key_bodies_mirror(spec):
    """Nine key bodies; the mirror permutation swaps left/right and is an involution."""
    assert len(spec.key_bodies) == 9
    perm = spec.key_body_mirror_permutation
    names = spec.key_body_names
    assert names[perm[names.index("left_hand")]] == "right_hand"
    assert names[perm[names.index("torso")]] == "torso"
    assert perm[perm].tolist() == list(range(9))


def test_indices_of_rejects_unknown_and_duplicates(spec):
    """Name lookups fail loudly."""
    from twist_core.robot import RobotSpecError

    assert spec.indices_of(["waist_yaw_joint", "left_hip_pitch_joint"]).tolist() == [12, 0]
    with pytest.raises(RobotSpecError, match="unknown joint names"):
        spec.indices_of(["left_toe_joint"])
    with pytest.raises(RobotSpecError, match="duplicated"):
        spec.indices_of(["waist_yaw_joint", "waist_yaw_joint"])
    with pytest.raises(KeyError, match="unknown joint"):
        spec.joint_index("nope")
