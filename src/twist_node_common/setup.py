"""twist_node_common.

What every node of the workspace shares: the entry point (--help, start-up errors with exit code 2, signals), the
parameter tables with their --help text, the QoS profiles of the control topics, where ros2 run finds an executable
and the simulation's DDS isolation.
"""

from setuptools import find_packages, setup

PACKAGE = "twist_node_common"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "README.md"]),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},
    zip_safe=True,
    maintainer="TWIST-G1 maintainers",
    maintainer_email="maintainers@twist-g1.dev",
    description=" ".join(__doc__.split("\n\n", 1)[-1].split()),
    license="BSD-3-Clause",
)
