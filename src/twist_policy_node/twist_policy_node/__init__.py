"""twist_policy_node.

The student policy node: MotionReference + RobotState -> JointCommand at 50 Hz with ONNX Runtime, with stale-
input hold and layout checks.
"""
