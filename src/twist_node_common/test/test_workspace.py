"""The simulation's DDS isolation (executable_path is exercised by twist_bringup's graph runner tests)."""

from twist_node_common.workspace import SIM_DOMAIN_ID, sim_environment


def test_sim_environment_isolates_unless_chosen():
    """The simulation's processes: localhost discovery and domain 42 by default; a chosen domain or range stays."""
    assert sim_environment({"PATH": "/bin"}) == {"PATH": "/bin", "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
                                                 "ROS_DOMAIN_ID": str(SIM_DOMAIN_ID)}
    chosen = {"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET", "ROS_DOMAIN_ID": "7"}
    assert sim_environment(chosen) == chosen and SIM_DOMAIN_ID != 0
