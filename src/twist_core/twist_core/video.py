"""Seeing the simulation: mp4 recording by offscreen rendering, and the MuJoCo viewer window.

Offscreen rendering needs an OpenGL platform chosen before MuJoCo is imported: the programs that record
(``g1_bridge``, ``eval-policy``) select EGL unless ``MUJOCO_GL`` is set. Mesa's software EGL works without a
GPU, at about 0.25 s a frame on 2 CPU cores, so real-time recording needs a GPU. The mp4 is written with
imageio's ffmpeg plugin (``imageio-ffmpeg`` ships its own ffmpeg binary). Both are optional:
:func:`open_recorder` and :func:`open_viewer` return ``None`` with a reason when they cannot work here, and the
caller carries on headless.
"""

from __future__ import annotations

import os
from pathlib import Path

import mujoco
import numpy as np


class VideoRecorder:
    """Renders frames at ``fps`` of simulated time from a camera tracking the pelvis; writes an mp4."""

    def __init__(self, model: mujoco.MjModel, path: Path, fps: float = 30.0, width: int = 640,
                 height: int = 480, track_body: int = 1) -> None:
        """Open the renderer and the mp4 writer (raises on failure; use :func:`open_recorder`)."""
        import imageio

        self.path = Path(path)
        self.fps = fps
        self.renderer = mujoco.Renderer(model, height, width)
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
        self.camera.trackbodyid = track_body
        self.camera.distance, self.camera.azimuth, self.camera.elevation = 3.0, 135.0, -15.0
        self.writer = imageio.get_writer(str(self.path), fps=fps, codec="libx264", macro_block_size=8)
        self.frames = 0
        self._next_time = 0.0

    def maybe_capture(self, data: mujoco.MjData) -> bool:
        """Render and append a frame if one is due at ``data.time``; return whether it did."""
        if data.time + 1e-9 < self._next_time:
            return False
        self.renderer.update_scene(data, self.camera)
        self.writer.append_data(np.asarray(self.renderer.render()))
        self.frames += 1
        self._next_time = data.time + 1.0 / self.fps
        return True

    def close(self) -> None:
        """Finish the mp4 file."""
        self.writer.close()
        self.renderer.close()


def open_recorder(model: mujoco.MjModel, path: str, fps: float = 30.0,
                  track_body: int = 1) -> tuple[VideoRecorder | None, str]:
    """A recorder, or None and why not (no OpenGL platform, no ffmpeg, unwritable path)."""
    try:
        recorder = VideoRecorder(model, Path(path), fps=fps, track_body=track_body)
    except Exception as exc:  # noqa: BLE001 - any rendering/codec failure means: no video, keep simulating
        return None, f"video recording disabled: {type(exc).__name__}: {exc}"
    return recorder, f"recording {fps:.0f} fps video to {path}"


def open_viewer(model: mujoco.MjModel, data: mujoco.MjData):
    """The passive MuJoCo viewer window, or None and why not (no display)."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return None, "viewer disabled: no display (DISPLAY is not set)"
    try:
        import mujoco.viewer

        return mujoco.viewer.launch_passive(model, data), "MuJoCo viewer open"
    except Exception as exc:  # noqa: BLE001 - a viewer failure must not stop the simulation
        return None, f"viewer disabled: {type(exc).__name__}: {exc}"
