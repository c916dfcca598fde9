"""Every motion format: write a synthetic file in it, read it back, compare with the original."""

import dataclasses
import pickle
import warnings

import numpy as np
import pytest

from motion_fixtures import sine_motion
from twist_core.motion import MotionError, resample
from twist_core.motion_formats import FORMATS, detect_format, read_motion, write_motion
from twist_core.testing.motion_fixture import malicious_pickle

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


def test_a_pickle_runs_no_code(spec, motion, tmp_path):
    """A crafted .pkl is refused by name (io.open) and its payload never runs; plain pickles still load."""
    marker = tmp_path / "payload_ran"
    evil = malicious_pickle(tmp_path / "evil.pkl", marker, motion, spec)
    pickle.loads(evil.read_bytes()).clear()  # the crafted file does run its payload under pickle.load
    assert marker.exists()
    marker.unlink()
    for load in (detect_format, lambda p: read_motion(p, spec), lambda p: read_motion(p, spec, "twist")):
        # io.open pickles as io.open up to CPython 3.11 and as _io.open from 3.12 on
        with pytest.raises(MotionError, match=r"cannot read as a pickle: refused to load _?io\.open"):
            load(evil)
    assert not marker.exists()
    for protocol in (2, 4, 5):  # how numpy arrays pickle differs by protocol: all load
        data = {"fps": np.float64(30.0), "root_pos": motion.root_pos, "root_rot": motion.root_quat[:, [1, 2, 3, 0]],
                "dof_pos": motion.joint_pos, "local_body_pos": None, "link_body_list": ["a", "b"]}
        (tmp_path / "plain.pkl").write_bytes(pickle.dumps(data, protocol=protocol))
        assert read_motion(tmp_path / "plain.pkl", spec).num_frames == motion.num_frames


def test_bad_arrays_and_metadata_are_clear_errors(spec, motion, tmp_path):
    """Non-JSON metadata, a version string, an fps array or string, 1-D body arrays, dof_pos as a string: each a
    MotionError naming the field (never a traceback); resampling refuses an output too large to allocate."""
    canonical = dict(np.load(write_motion(motion, tmp_path / "m.npz", spec, "canonical")))
    amass = dict(np.load(write_motion(motion, tmp_path / "a.npz", spec, "amass_g1")))
    mjlab = dict(np.load(write_motion(motion, tmp_path / "j.npz", spec, "mjlab")))
    cases = [
        (canonical, {"metadata": np.array("{not json")}, "metadata is not JSON"),
        (canonical, {"metadata": np.array("[1, 2]")}, "metadata must be a JSON object"),
        (canonical, {"twist_motion_version": np.array("one")}, "twist_motion_version 'one' is not 1"),
        (canonical, {"fps": np.array([30.0, 60.0])}, "fps must be a single number"),
        (canonical, {"fps": np.array("fast")}, "fps must be a single number"),
        (canonical, {"joint_pos": np.array("abc")}, "joint_pos must be a numeric array"),
        (amass, {"body_positions": amass["body_positions"][:, 0, 0]}, r"body_positions has shape \(61,\)"),
        (amass, {"body_rotations": np.zeros(4)}, r"body_rotations has shape \(4,\); expected 3-D"),
        (amass, {"fps": np.array(["30"])}, "fps must be a single number"),
        (amass, {"dof_names": np.array("left_hip")}, "dof_names must be a list of names"),
        (mjlab, {"body_quat_w": mjlab["body_quat_w"][:, :, :3]}, "body_quat_w has shape .*last dimension 4"),
        (mjlab, {"joint_pos": mjlab["joint_pos"][:, 0]}, r"joint_pos has shape \(61,\)"),
    ]
    for index, (base, change, message) in enumerate(cases):
        path = tmp_path / f"bad{index}.npz"
        np.savez(path, **{**base, **change})
        with pytest.raises(MotionError, match=message):
            read_motion(path, spec)
    twist = pickle.loads(write_motion(motion, tmp_path / "t.pkl", spec, "twist").read_bytes())
    for index, (change, message) in enumerate([({"dof_pos": "abc"}, "dof_pos must be a numeric array"),
                                               ({"fps": "thirty"}, "fps must be a single number"),
                                               ({"root_rot": twist["root_rot"][:, 0]}, r"root_rot has shape")]):
        path = tmp_path / f"bad{index}.pkl"
        path.write_bytes(pickle.dumps({**twist, **change}))
        with pytest.raises(MotionError, match=message):
            read_motion(path, spec, "twist" if index else None)
    hours = dataclasses.replace(motion, fps=1.0)  # 60 s at 1 fps to 1000 fps: 60001 frames are allowed
    assert resample(hours, spec, 1000.0).num_frames == 60001
    with pytest.raises(MotionError, match="more than 500000: split the motion"):
        resample(dataclasses.replace(motion, fps=1.0, joint_pos=np.repeat(motion.joint_pos, 10, 0)), spec, 1000.0)


def test_a_reader_requires_only_what_it_uses(spec, motion, tmp_path):
    """AMASS-G1 without body velocities (other tools omit them) and mjlab without velocities load."""
    amass = dict(np.load(write_motion(motion, tmp_path / "a.npz", spec, "amass_g1")))
    for key in ("body_linear_velocities", "body_angular_velocities", "dof_velocities"):
        amass.pop(key)
    np.savez(tmp_path / "lean_amass.npz", **amass)
    mjlab = dict(np.load(write_motion(motion, tmp_path / "j.npz", spec, "mjlab")))
    for key in ("joint_vel", "body_lin_vel_w", "body_ang_vel_w"):
        mjlab.pop(key)
    np.savez(tmp_path / "lean_mjlab.npz", **mjlab)
    for name in ("lean_amass.npz", "lean_mjlab.npz"):
        loaded = read_motion(tmp_path / name, spec)
        np.testing.assert_allclose(loaded.joint_pos, motion.joint_pos, atol=1e-12)
