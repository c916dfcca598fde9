"""The spec against the MuJoCo model: names, addresses, and the mirror checked by kinematics."""

import mujoco
import numpy as np
import pytest

from twist_core.model import (MODEL_DIR_ENV, hinge_joint_names, joint_dof_addresses, joint_qpos_addresses,
                              model_xml, spec_model_mismatches)
from twist_core.robot import RobotSpecError


def test_spec_agrees_with_model(spec, mj_model):
    """No mismatch between config/g1.yaml and the menagerie G1."""
    assert spec_model_mismatches(spec, mj_model) == []


def test_model_joint_order_equals_motor_order(spec, mj_model):
    """The menagerie model lists its hinges in motor order, right after the 7 free-joint qpos."""
    assert hinge_joint_names(mj_model) == list(spec.joint_names)
    assert joint_qpos_addresses(spec, mj_model).tolist() == list(range(7, 36))
    assert joint_dof_addresses(spec, mj_model).tolist() == list(range(6, 35))


def _key_body_points(spec, model, q):
    data = mujoco.MjData(model)
    data.qpos[:7] = [0, 0, 0, 1, 0, 0, 0]
    data.qpos[joint_qpos_addresses(spec, model)] = q
    mujoco.mj_kinematics(model, data)
    points = []
    for key in spec.key_bodies:
        body = model.body(key.body).id
        points.append(data.xpos[body] + data.xmat[body].reshape(3, 3) @ np.asarray(key.offset))
    return np.array(points)


def test_mirror_map_reflects_the_kinematics(spec, mj_model):
    """Key-body points of mirror(q) are the y-reflection of those of q, with sides swapped.

    This checks the mirror signs against the model's joint axes rather than against a list.
    """
    rng = np.random.default_rng(2)
    for _ in range(10):
        q = rng.uniform(spec.lower_limits, spec.upper_limits)
        q = np.clip(q, -np.minimum(-spec.lower_limits, spec.upper_limits),
                    np.minimum(-spec.lower_limits, spec.upper_limits))  # keep mirror(q) in range too
        original = _key_body_points(spec, mj_model, q)
        mirrored = _key_body_points(spec, mj_model, spec.mirror(q))
        reflected = original[spec.key_body_mirror_permutation] * np.array([1.0, -1.0, 1.0])
        np.testing.assert_allclose(mirrored, reflected, atol=1e-4)


def test_model_dir_override(spec, monkeypatch, tmp_path):
    """TWIST_G1_MODEL_DIR selects another model directory, and a wrong one fails clearly."""
    real = model_xml(spec)
    monkeypatch.setenv(MODEL_DIR_ENV, str(real.parent))
    assert model_xml(spec) == real
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path))
    with pytest.raises(RobotSpecError, match="does not exist"):
        model_xml(spec)
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "nope"))
    with pytest.raises(RobotSpecError, match="not a directory"):
        model_xml(spec)


def test_missing_menagerie_root_is_a_clear_error(spec, monkeypatch, tmp_path):
    """MENAGERIE_ROOT pointing at an empty directory fails with advice, not a traceback maze."""
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    monkeypatch.setenv("MENAGERIE_ROOT", str(tmp_path))
    with pytest.raises(RobotSpecError, match="MENAGERIE_ROOT"):
        model_xml(spec)
