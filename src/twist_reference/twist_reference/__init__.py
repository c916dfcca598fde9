"""twist_reference.

Reference publishers for the tracker: the Conditional Motion Generator node (cmd_vel -> 29-DOF reference at 50 Hz,
ONNX Runtime), the mocap reference node (plays a motion file) and the teleoperation reference node (a live stream
of retargeted poses), with teleop-replay streaming a file as a live stream.
"""
