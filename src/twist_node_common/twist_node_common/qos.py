"""The QoS profiles of the workspace's topics, one definition for every publisher and subscriber.

* :data:`CONTROL_QOS`: the control chain (``motion_reference``, ``robot_state``, ``joint_command``): RELIABLE,
  KEEP_LAST 1; only the newest message matters, and none is dropped by the transport on loopback.
* :data:`STATUS_QOS`: ``bridge_status``: RELIABLE and TRANSIENT_LOCAL, so a late subscriber gets the last status.
* :data:`CMD_VEL_QOS`: ``cmd_vel`` (geometry_msgs/Twist): RELIABLE, KEEP_LAST 10, the ROS convention.
"""

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

CONTROL_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
STATUS_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
CMD_VEL_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
