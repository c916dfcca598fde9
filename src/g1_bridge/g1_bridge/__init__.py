"""g1_bridge.

The G1 bridge: MuJoCo simulation and the real robot (unitree_sdk2py) behind one safety state machine; robot
description for rviz2.
"""
