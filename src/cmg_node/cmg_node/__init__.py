"""cmg_node.

Reference publishers: the Conditional Motion Generator node (cmd_vel -> 29-DOF reference at 50 Hz, ONNX
Runtime) and the mocap reference node (plays a motion file).
"""
