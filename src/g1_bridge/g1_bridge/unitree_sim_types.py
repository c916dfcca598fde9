"""DDS types of the simulated G1's test interface (``rt/sim/control``, ``rt/sim/truth``), for ``unitree_sim``.

No ``from __future__ import annotations`` here: the Cyclone DDS Python binding resolves the field annotations
itself, and cannot resolve them as strings.
"""

import dataclasses

import cyclonedds.idl as idl
import cyclonedds.idl.annotations as annotate
import cyclonedds.idl.types as types


@dataclasses.dataclass
@annotate.final
@annotate.autoid("sequential")
class SimControl_(idl.IdlStruct, typename="twist_g1.sim.Control_"):
    """Test input: the wireless-remote bytes to report, the gantry and a LowState fault to inject.

    ``gantry``: -1 unchanged, 0 release, 1 engage. ``lowstate_fault``: one of ``unitree_sim.FAULTS`` (0 none, 1 a
    wrong CRC on every frame, 2 on every 10th frame, 3 an all-zero IMU quaternion, 4 an IMU quaternion of norm 0.5).
    """

    wireless_remote: types.array[types.uint8, 40]
    gantry: types.int8
    lowstate_fault: types.uint8


@dataclasses.dataclass
@annotate.final
@annotate.autoid("sequential")
class SimTruth_(idl.IdlStruct, typename="twist_g1.sim.Truth_"):
    """Ground truth and LowCmd counters of the simulated robot."""

    time: types.float64
    base_pos: types.array[types.float64, 3]
    base_quat_wxyz: types.array[types.float64, 4]
    gantry_engaged: types.uint8
    mode_machine: types.uint8
    lowcmd_received: types.uint64
    lowcmd_applied: types.uint64
    lowcmd_crc_errors: types.uint64
    lowcmd_wrong_mode_machine: types.uint64
    lowcmd_non_finite: types.uint64
    lowstate_sent: types.uint64
    real_time_factor: types.float64
