"""The G1 motion CSV (root xyz, quaternion, 29 joints, no header): reading, writing, and motion-tool on it.

Every file here is written by the test; the errors are the ones a user meets with real files.
"""

import subprocess
import sys

import numpy as np
import pytest

from motion_fixtures import sine_motion
from twist_core.motion import MotionError, load_motion
from twist_core.motion_formats import detect_format, read_motion, write_motion


def tool(*args):
    """Run motion-tool as a user does; (exit code, stdout + stderr)."""
    result = subprocess.run([sys.executable, "-m", "twist_core.motion_tool", *map(str, args)],
                            capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def motion(spec):
    """A 60 fps sine motion (walks and turns)."""
    return sine_motion(spec, fps=60.0, seconds=2.0)


@pytest.fixture(scope="module")
def csv_file(spec, motion, tmp_path_factory):
    """The motion as a G1 CSV, xyzw."""
    return write_motion(motion, tmp_path_factory.mktemp("csv") / "clip.csv", spec, "csv")


def test_round_trip_in_both_quaternion_orders(spec, motion, tmp_path):
    """Written and read back (xyzw, and wxyz by option), the motion is the same to the 6 decimals written."""
    path = tmp_path / "clip.csv"
    write_motion(motion, path, spec, "csv")
    assert detect_format(path) == "csv"
    row = np.loadtxt(path, delimiter=",")[0]
    assert row.shape == (36,)
    np.testing.assert_allclose(row[3:7], motion.root_quat[0, [1, 2, 3, 0]], atol=1e-6)  # x y z w on disk
    loaded = read_motion(path, spec, fps=60.0)
    assert loaded.fps == 60.0 and loaded.metadata["format"] == "csv"
    np.testing.assert_allclose(loaded.joint_pos, motion.joint_pos, atol=1e-6)
    np.testing.assert_allclose(loaded.root_pos, motion.root_pos, atol=1e-6)
    np.testing.assert_allclose(loaded.root_quat, motion.root_quat, atol=2e-6)
    np.testing.assert_allclose(loaded.key_body_pos, motion.key_body_pos, atol=1e-5)
    wxyz = tmp_path / "wxyz.csv"
    np.savetxt(wxyz, np.column_stack([motion.root_pos, motion.root_quat, motion.joint_pos]), delimiter=",")
    np.testing.assert_allclose(read_motion(wxyz, spec, fps=60.0, quat_order="wxyz").root_quat, motion.root_quat,
                               atol=1e-12)


def test_the_frame_rate_is_required_and_bounded(spec, csv_file):
    """A CSV carries no frame rate: none given, or an absurd one, is a clear error."""
    with pytest.raises(MotionError, match="carries no frame rate"):
        read_motion(csv_file, spec)
    for fps in (1e-6, 1e12, float("nan"), "60", [60.0, 30.0]):
        with pytest.raises(MotionError, match="fps"):
            read_motion(csv_file, spec, fps=fps)


def test_a_frame_rate_given_for_a_file_that_has_one_is_checked(spec, motion, tmp_path):
    """--fps for a canonical file is a check: the file's own rate wins, a disagreement is an error."""
    path = write_motion(motion, tmp_path / "m.npz", spec)
    assert read_motion(path, spec, fps=60.0).fps == 60.0
    with pytest.raises(MotionError, match="says 60 fps"):
        read_motion(path, spec, fps=30.0)


def _bad_files(motion, tmp_path):
    good = np.column_stack([motion.root_pos, motion.root_quat[:, [1, 2, 3, 0]], motion.joint_pos])
    text = "\n".join(",".join(f"{v:.6f}" for v in row) for row in good)
    lines = text.splitlines()
    cases = {
        "columns": ("\n".join(lines[:3] + [lines[3] + ",0.0"] + lines[4:]), "line 4 has 37 columns"),
        "nan": ("\n".join(lines[:5] + [lines[5].replace(lines[5].split(",")[9], "nan", 1)] + lines[6:]),
                "NaN/Inf in 1 frame"),
        "text": ("\n".join(lines[:2] + [lines[2].replace(lines[2].split(",")[8], "abc", 1)] + lines[3:]),
                 "line 3, column 9: 'abc' is not a number"),
        "header": ("root_x," + ",".join(f"c{i}" for i in range(35)) + "\n" + text, "no header row"),
        "quaternion": ("\n".join(lines[:7] + [",".join(lines[7].split(",")[:3] + ["0.5"] * 4 + lines[7].split(",")[7:])]
                                 + lines[8:]).replace(",0.5,0.5,0.5,0.5,", ",0.9,0.9,0.9,0.9,", 1),
                       "not of unit norm, first at frame 7"),
        "empty": ("\n\n", "empty file"),
        "binary": (None, "cannot read as text"),
    }
    paths = {}
    for name, (content, message) in cases.items():
        path = tmp_path / f"{name}.csv"
        if content is None:
            path.write_bytes(b"\xff\xfe\x00\x80" * 10)
        else:
            path.write_text(content)
        paths[name] = (path, message)
    return paths


def test_bad_files_are_clear_errors_naming_the_place(spec, motion, tmp_path):
    """Wrong column count, NaN, text, a header, a non-unit quaternion, an empty or binary file: MotionError."""
    for name, (path, message) in _bad_files(motion, tmp_path).items():
        with pytest.raises(MotionError, match=message):
            read_motion(path, spec, fps=60.0)


def test_motion_tool_on_csv(spec, csv_file, motion, tmp_path):
    """info, validate, convert and plot take --fps for a CSV; errors exit 1 with one line, never a traceback."""
    code, out = tool("info", csv_file, "--fps", "60")
    assert code == 0 and "format        csv" in out and "fps           60" in out and "121 (2.00 s)" in out
    code, out = tool("info", csv_file)
    assert code == 1 and "carries no frame rate" in out and "Traceback" not in out
    assert tool("validate", csv_file, "--fps", "60")[0] == 0
    code, out = tool("convert", csv_file, tmp_path / "clip.bin", "--fps", "60")
    assert code == 0 and f"wrote {tmp_path / 'clip.bin'} (canonical): 101 frames at 50 fps" in out
    assert load_motion(tmp_path / "clip.bin", spec).fps == 50.0
    code, out = tool("convert", csv_file, tmp_path / "absent" / "clip.npz", "--fps", "60")
    assert code == 1 and "no such directory" in out and "Traceback" not in out
    code, out = tool("plot", csv_file, "--fps", "60", "-o", tmp_path / "clip.png")
    assert code == 0 and (tmp_path / "clip.png").read_bytes()[:4] == b"\x89PNG"
    for path, message in _bad_files(motion, tmp_path).values():
        code, out = tool("validate", path, "--fps", "60")
        assert code == 1 and message.split(",")[0] in out and "Traceback" not in out, out


def test_wrong_quaternion_order_and_frame_rate_are_warned(spec, motion, tmp_path):
    """A wxyz file read as xyzw (unit norm either way) and a 60 fps clip read at 600 fps are warned about."""
    wxyz = tmp_path / "wxyz.csv"
    np.savetxt(wxyz, np.column_stack([motion.root_pos, motion.root_quat, motion.joint_pos]), delimiter=",")
    code, out = tool("info", wxyz, "--fps", "60")
    assert code == 0 and "tilted" in out and "--quat-order wxyz" in out
    fast = write_motion(sine_motion(spec, fps=60.0, amplitude=0.8, frequency=2.0), tmp_path / "fast.csv", spec,
                        "csv")
    assert "implausibly" not in tool("info", fast, "--fps", "60")[1]
    code, out = tool("info", fast, "--fps", "600")
    assert code == 0 and "implausibly fast" in out
