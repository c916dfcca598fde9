"""scripts/plot_curves.py: joins a resumed run's TensorBoard files and plots them."""

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "plot_curves.py"


def _module():
    spec = importlib.util.spec_from_file_location("plot_curves", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(logdir: Path, values: dict[int, float]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(logdir))
    for step, value in values.items():
        writer.add_scalar("Tracking/joint_error_rad", value, step)
    writer.close()


def test_resumed_run_is_joined_newest_file_winning(tmp_path):
    """Two runs overlapping at steps 2-3 (a resume from step 2): the second run's values win there."""
    _write(tmp_path / "old", {0: 0.3, 1: 0.25, 2: 0.2, 3: 0.19})
    time.sleep(1.1)  # event file names carry their creation time in seconds
    _write(tmp_path / "new", {2: 0.21, 3: 0.18, 4: 0.17})
    plot_curves = _module()
    files = plot_curves.event_files([tmp_path / "new", tmp_path / "old"])
    assert [f.parent.name for f in files] == ["old", "new"]
    scalars = plot_curves.read_scalars(files)
    values = scalars["Tracking/joint_error_rad"]
    assert sorted(values) == [0, 1, 2, 3, 4]
    assert abs(values[2] - 0.21) < 1e-6 and abs(values[1] - 0.25) < 1e-6
    out = plot_curves.plot(scalars, ["Tracking/joint_error_rad", "Train/absent"], "test", tmp_path / "c.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_help_and_missing_logs(tmp_path):
    """--help works; a directory without event files is a clear error (exit 2)."""
    assert subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True).returncode == 0
    run = subprocess.run([sys.executable, str(SCRIPT), "--logdir", str(tmp_path), "--out", str(tmp_path / "x.png")],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "no event files" in run.stderr


def test_scalars_csv_round_trip_and_bad_files(tmp_path):
    """--export-csv writes the tags as CSV, --csv plots it back; a file of another kind is a clear error."""
    _write(tmp_path / "run", {0: 0.3, 1: 0.25, 5: 0.2})
    csv_path = tmp_path / "m" / "scalars.csv"
    run = subprocess.run([sys.executable, str(SCRIPT), "--logdir", str(tmp_path / "run"), "--export-csv",
                          str(csv_path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    plot_curves = _module()
    values = plot_curves.read_csv(csv_path)["Tracking/joint_error_rad"]
    assert sorted(values) == [0, 1, 5] and abs(values[1] - 0.25) < 1e-6
    run = subprocess.run([sys.executable, str(SCRIPT), "--csv", str(csv_path), "--out", str(tmp_path / "c.png")],
                         capture_output=True, text=True)
    assert run.returncode == 0 and (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG", run.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("step,Tracking/joint_error_rad\n3,abc\n")
    run = subprocess.run([sys.executable, str(SCRIPT), "--csv", str(bad), "--out", str(tmp_path / "d.png")],
                         capture_output=True, text=True)
    assert run.returncode != 0 and "line 2" in run.stderr and "Traceback" not in run.stderr
