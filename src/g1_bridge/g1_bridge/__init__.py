"""g1_bridge.

The G1 bridges: MuJoCo simulation and the real robot (unitree_sdk2py) behind one safety state machine; the
robot's DDS protocol (unitree_protocol) and a simulated G1 that speaks it (unitree_sim).
"""

import os

# Offscreen rendering (video recording) needs an OpenGL platform chosen before MuJoCo is imported; EGL works
# headless, with or without a GPU. Set MUJOCO_GL yourself to override.
os.environ.setdefault("MUJOCO_GL", "egl")
