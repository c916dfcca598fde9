"""What every node of the workspace shares.

:mod:`twist_node_common.entry` (the entry point: ``--help``, start-up errors, signals), :mod:`twist_node_common.
parameters` (parameter tables, their ``--help`` text, :class:`~twist_node_common.parameters.SetupError`),
:mod:`twist_node_common.qos` (the QoS profiles of the control topics) and :mod:`twist_node_common.workspace`
(where ``ros2 run`` finds an executable; the simulation's DDS isolation).
"""
