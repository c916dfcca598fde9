"""Seeing the simulation: mp4 recording and the viewer (twist_core.video, GL platform chosen by g1_bridge)."""

import numpy as np
import pytest

import g1_bridge  # noqa: F401  first: g1_bridge selects the GL platform for MuJoCo
from twist_core.video import open_recorder, open_viewer
from twist_core.sim import G1Sim

SUBSTEPS = 10


def test_video_recording(spec, tmp_path):
    """Offscreen rendering writes a playable mp4 with one frame per 1/fps of sim time (skips without GL)."""
    import imageio

    sim = G1Sim(spec)
    recorder, reason = open_recorder(sim.model, str(tmp_path / "g1.mp4"), fps=10.0)
    if recorder is None:
        pytest.skip(reason)
    for _ in range(50):  # 1 s of sim time
        sim.step(SUBSTEPS)
        recorder.maybe_capture(sim.data)
    recorder.close()
    assert recorder.frames == 10
    frames = imageio.mimread(str(tmp_path / "g1.mp4"))
    assert len(frames) == 10 and frames[0].shape == (480, 640, 3)
    assert np.std(frames[-1]) > 5.0  # an image, not a blank frame


def test_viewer_without_display_stays_headless(spec, monkeypatch):
    """With no display the viewer is refused with a reason, not an exception."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    sim = G1Sim(spec)
    viewer, reason = open_viewer(sim.model, sim.data)
    assert viewer is None and "no display" in reason
