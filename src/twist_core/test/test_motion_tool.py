"""motion-tool, run as a user runs it (a subprocess), on synthetic files."""

import re
import subprocess
import sys

import numpy as np
import pytest

from motion_fixtures import sine_motion
from twist_core.motion import load_motion
from twist_core.motion_formats import write_motion
from twist_core.testing.motion_fixture import malicious_pickle


def tool(*args):
    """Run motion-tool; return (exit code, stdout + stderr)."""
    result = subprocess.run([sys.executable, "-m", "twist_core.motion_tool", *map(str, args)],
                            capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def twist_file(spec, tmp_path_factory):
    """A 30 fps TWIST .pkl."""
    path = tmp_path_factory.mktemp("m") / "walk.pkl"
    return write_motion(sine_motion(spec, fps=30.0, seconds=2.0), path, spec, "twist")


def test_info(twist_file):
    """info names the format, frame rate and length."""
    code, out = tool("info", twist_file)
    assert code == 0
    assert "format        twist" in out and "fps           30" in out and "61 (2.00 s)" in out


def test_convert_to_50hz_canonical(spec, twist_file, tmp_path):
    """convert writes a 50 Hz canonical file that loads."""
    code, out = tool("convert", twist_file, tmp_path / "walk.npz")
    assert code == 0 and "101 frames at 50 fps" in out
    assert load_motion(tmp_path / "walk.npz", spec).fps == 50.0


def test_resample_and_convert_to_another_format(twist_file, tmp_path):
    """resample changes the rate; convert --to mjlab exports."""
    assert tool("resample", twist_file, tmp_path / "r.npz", "--out-fps", "25")[0] == 0
    code, out = tool("convert", tmp_path / "r.npz", tmp_path / "r_mjlab.npz", "--to", "mjlab", "--out-fps", "25")
    assert code == 0 and "51 frames at 25 fps" in out
    assert "format        mjlab" in tool("info", tmp_path / "r_mjlab.npz")[1]


def test_validate(spec, tmp_path):
    """validate passes a good file, reports joint-limit excess (failing with --strict) and rejects NaN."""
    motion = sine_motion(spec)
    good = write_motion(motion, tmp_path / "good.npz", spec)
    assert tool("validate", good)[0] == 0
    motion.joint_pos[10:12, 3] = 3.5
    over = write_motion(motion, tmp_path / "over.npz", spec)
    code, out = tool("validate", over)
    assert code == 0 and "left_knee_joint: 2 frame(s)" in out
    assert tool("validate", over, "--strict")[0] == 1
    data = dict(np.load(good))
    data["joint_pos"][4, 0] = np.nan
    np.savez(tmp_path / "nan.npz", **data)
    code, out = tool("validate", tmp_path / "nan.npz")
    assert code == 1 and "NaN/Inf" in out


def test_plot_writes_a_png(twist_file, tmp_path):
    """plot writes a PNG image."""
    code, _ = tool("plot", twist_file, "-o", tmp_path / "walk.png")
    assert code == 0
    assert (tmp_path / "walk.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_help():
    """--help describes every subcommand."""
    code, out = tool("--help")
    assert code == 0 and all(word in out for word in ("info", "validate", "convert", "resample", "plot"))


def test_every_command_refuses_a_crafted_pickle(spec, tmp_path):
    """info, validate, convert, resample and plot on a .pkl that would create a file: exit 1, the reason, no file."""
    marker = tmp_path / "payload_ran"
    evil = malicious_pickle(tmp_path / "evil.pkl", marker, sine_motion(spec, fps=30.0), spec)
    for args in (("info", evil), ("validate", evil), ("convert", evil, tmp_path / "o.npz"),
                 ("resample", evil, tmp_path / "r.npz"), ("plot", evil)):
        code, out = tool(*args)
        assert code == 1 and re.search(r"refused to load _?io\.open", out) and "Traceback" not in out, (args, out)
    assert not marker.exists() and not list(tmp_path.glob("[or].npz"))
