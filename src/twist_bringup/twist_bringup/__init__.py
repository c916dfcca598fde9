"""twist_bringup: bringing the G1 graph up, in simulation and on the robot.

:mod:`twist_bringup.launch_graph` (the node graphs as plain data, for the launch files and the runner),
:mod:`twist_bringup.graph_runner` (a graph without ``ros2 launch``, each node its own process),
:mod:`twist_bringup.closed_loop` (the closed loop watched from outside), :mod:`twist_bringup.sim_session` (what
``make demo`` and the benchmarks share) and :mod:`twist_bringup.urdf` (the URDF for robot_state_publisher and rviz2,
generated from the MJCF). The launch files and the nodes' configuration are installed to this package's share
directory.
"""
