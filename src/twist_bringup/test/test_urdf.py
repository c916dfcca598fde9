"""The URDF generated from the MJCF: forward kinematics equal to MuJoCo's, limits equal to the spec."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse

import mujoco
import numpy as np
import pytest
import yourdfpy

from twist_bringup.urdf import build_urdf, quat_to_rpy
from twist_core.model import joint_qpos_addresses, load_model


@pytest.fixture(scope="module")
def urdf_text(spec):
    """The generated URDF."""
    return build_urdf(spec)


@pytest.fixture(scope="module")
def urdf(urdf_text, tmp_path_factory):
    """The URDF loaded by yourdfpy (a pure-Python URDF library), without meshes."""
    path = tmp_path_factory.mktemp("urdf") / "g1.urdf"
    path.write_text(urdf_text)
    return yourdfpy.URDF.load(str(path), load_meshes=False, build_collision_scene_graph=False,
                              load_collision_meshes=False)


def test_forward_kinematics_matches_mujoco(spec, urdf):
    """Every body's pose relative to the pelvis agrees within 1 mm (and 1e-6 in rotation) for random q."""
    model = load_model(spec, spec.model.robot_entry)
    data = mujoco.MjData(model)
    rng = np.random.default_rng(4)
    for _ in range(25):
        q = rng.uniform(spec.lower_limits, spec.upper_limits)
        urdf.update_cfg(dict(zip(spec.joint_names, q)))
        data.qpos[:7] = [0, 0, 0, 1, 0, 0, 0]
        data.qpos[joint_qpos_addresses(spec, model)] = q
        mujoco.mj_kinematics(model, data)
        for body in range(1, model.nbody):
            transform = urdf.get_transform(model.body(body).name, spec.model.root_body)
            np.testing.assert_allclose(transform[:3, 3], data.xpos[body], atol=1e-3)
            np.testing.assert_allclose(transform[:3, :3], data.xmat[body].reshape(3, 3), atol=1e-6)


def test_joints_and_limits_equal_the_spec(spec, urdf_text):
    """29 revolute joints with the config's limits; the root is the pelvis."""
    root = ET.fromstring(urdf_text)
    revolute = {j.get("name"): j for j in root.iter("joint") if j.get("type") == "revolute"}
    assert sorted(revolute) == sorted(spec.joint_names)
    for joint in spec.joints:
        limit = revolute[joint.name].find("limit")
        assert float(limit.get("lower")) == pytest.approx(joint.lower, abs=1e-6)
        assert float(limit.get("upper")) == pytest.approx(joint.upper, abs=1e-6)
        assert float(limit.get("effort")) == pytest.approx(joint.effort)
    children = {j.find("child").get("link") for j in root.iter("joint")}
    assert [link.get("name") for link in root.iter("link") if link.get("name") not in children] == ["pelvis"]


def test_meshes_exist(urdf_text):
    """Every visual mesh is an existing file."""
    meshes = [urlparse(m.get("filename")).path for m in ET.fromstring(urdf_text).iter("mesh")]
    assert len(meshes) >= 30
    assert all(Path(m).is_file() for m in meshes)


def test_quat_to_rpy_round_trip():
    """rpy -> quaternion (MuJoCo) -> rpy is the identity away from gimbal lock."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        rpy = rng.uniform([-3, -1.5, -3], [3, 1.5, 3])
        quat = np.zeros(4)
        mat = np.zeros(9)
        cr, sr, cp, sp, cy, sy = np.cos(rpy[0]), np.sin(rpy[0]), np.cos(rpy[1]), np.sin(rpy[1]), \
            np.cos(rpy[2]), np.sin(rpy[2])
        rot = np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                        [-sp, cp * sr, cp * cr]])
        mat[:] = rot.ravel()
        mujoco.mju_mat2Quat(quat, mat)
        np.testing.assert_allclose(quat_to_rpy(quat), rpy, atol=1e-9)


def test_cli_writes_the_urdf(tmp_path, urdf_text):
    """`python -m twist_bringup.urdf -o FILE` writes the same URDF; --help works."""
    out = tmp_path / "g1.urdf"
    subprocess.run([sys.executable, "-m", "twist_bringup.urdf", "-o", str(out)], check=True)
    assert out.read_text() == urdf_text
    help_text = subprocess.run([sys.executable, "-m", "twist_bringup.urdf", "--help"], check=True,
                               capture_output=True, text=True).stdout
    assert "robot_state_publisher" in help_text
