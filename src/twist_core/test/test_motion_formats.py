"""Every motion format: write a synthetic file in it, read it back, compare with the original."""

import pickle
import warnings

import numpy as np
import pytest

from motion_fixtures import sine_motion
from twist_core.motion import MotionError, resample
from twist_core.motion_formats import FORMATS, detect_format, read_motion, write_motion

SUFFIX = {"canonical": ".npz", "amass_g1": ".npz", "twist": ".pkl", "gmr": ".pkl", "mjlab": ".npz"}


@pytest.fixture(scope="module")
def motion(spec):
    """A 30 fps walking, turning sine motion with the wrists moving too."""
    return sine_motion(spec, fps=30.0, seconds=2.0)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "csv"])  # CSV (6 decimals, no fps): test_motion_csv
def test_round_trip(spec, motion, fmt, tmp_path):
    """write -> detect -> read gives back the same root and joints (TWIST-23 files: wrists at default)."""
    path = write_motion(motion, tmp_path / f"m{SUFFIX[fmt]}", spec, fmt)
    assert detect_format(path) == fmt
    loaded = read_motion(path, spec)
    assert loaded.fps == 30.0 and loaded.num_frames == motion.num_frames
    np.testing.assert_allclose(loaded.root_pos, motion.root_pos, atol=1e-12)
    np.testing.assert_allclose(loaded.root_quat, motion.root_quat, atol=1e-12)
    expected = spec.from_policy(spec.to_policy(motion.joint_pos)) if fmt == "twist" else motion.joint_pos
    np.testing.assert_allclose(loaded.joint_pos, expected, atol=1e-12)
    if fmt != "twist":
        np.testing.assert_allclose(loaded.key_body_pos, motion.key_body_pos, atol=1e-9)


@pytest.mark.parametrize("fmt", ["amass_g1", "twist", "mjlab"])
def test_convert_to_canonical_50hz(spec, motion, fmt, tmp_path):
    """The conversion users run: any format -> resampled to 50 Hz -> canonical file."""
    path = write_motion(motion, tmp_path / f"m{SUFFIX[fmt]}", spec, fmt)
    out = write_motion(resample(read_motion(path, spec), spec), tmp_path / "out.npz", spec)
    converted = read_motion(out, spec)
    assert converted.fps == 50.0 and converted.num_frames == 101
    assert converted.metadata["format"] == fmt and converted.metadata["resampled_from_fps"] == 30.0


def test_amass_joints_are_matched_by_name(spec, motion, tmp_path):
    """An AMASS-G1 file listing its joints in another order (and without '_joint') is reordered by name."""
    path = write_motion(motion, tmp_path / "m.npz", spec, "amass_g1")
    data = dict(np.load(path))
    order = np.random.default_rng(0).permutation(29)
    data["dof_names"] = np.array([n.removesuffix("_joint") for n in data["dof_names"][order]])
    data["dof_positions"] = data["dof_positions"][:, order]
    data["dof_velocities"] = data["dof_velocities"][:, order]
    np.savez(tmp_path / "shuffled.npz", **data)
    np.testing.assert_allclose(read_motion(tmp_path / "shuffled.npz", spec).joint_pos, motion.joint_pos)


def test_declared_fps_disagreeing_with_velocities_warns(spec, motion, tmp_path):
    """A 30 Hz file labelled 60 fps (the CMG data's defect) loads with a warning that names both rates."""
    path = write_motion(motion, tmp_path / "m.npz", spec, "amass_g1")
    data = dict(np.load(path))
    data["fps"] = np.array([60.0])
    np.savez(tmp_path / "mislabelled.npz", **data)
    with pytest.warns(UserWarning, match="declared fps 60 .* suggest about 30 fps"):
        read_motion(tmp_path / "mislabelled.npz", spec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_motion(path, spec)


def test_bad_files_fail_loudly(spec, motion, tmp_path):
    """Missing keys, wrong joint counts, non-unit quaternions, NaN and junk each name the problem."""
    path = write_motion(motion, tmp_path / "m.pkl", spec, "twist")
    data = pickle.loads(path.read_bytes())
    cases = {
        "missing": ({k: v for k, v in data.items() if k != "root_rot"}, r"missing \['root_rot'\]"),
        "joints": (dict(data, dof_pos=data["dof_pos"][:, :20]), "dof_pos has 20 joints"),
        "quat": (dict(data, root_rot=data["root_rot"] * 1.5), "not of unit norm"),
        "nan": (dict(data, root_pos=np.where(np.arange(61)[:, None] == 7, np.nan, data["root_pos"])),
                "root_pos: NaN/Inf .* first at frame 7"),
    }
    for name, (content, message) in cases.items():
        bad = tmp_path / f"{name}.pkl"
        bad.write_bytes(pickle.dumps(content))
        with pytest.raises(MotionError, match=message):
            read_motion(bad, spec)
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(MotionError, match="cannot read as a pickle"):
        read_motion(tmp_path / "junk.pkl", spec)
    np.savez(tmp_path / "unknown.npz", a=np.zeros(2))
    with pytest.raises(MotionError, match="unknown motion format"):
        read_motion(tmp_path / "unknown.npz", spec)
    with pytest.raises(MotionError, match="no such file"):
        read_motion(tmp_path / "absent.npz", spec)
