"""g1_bridge.

The G1 bridges: MuJoCo simulation and the real robot (unitree_sdk2py) behind one safety state machine; the
robot's DDS protocol and a simulated G1 that speaks it.
"""

from setuptools import find_packages, setup

PACKAGE = "g1_bridge"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "README.md"]),
    ],
    install_requires=["setuptools", "numpy", "mujoco"],
    extras_require={"test": ["pytest"]},
    zip_safe=True,
    entry_points={"console_scripts": [
        "mujoco_bridge = g1_bridge.mujoco_bridge:main",
        "unitree_bridge = g1_bridge.unitree_bridge:main",
        "unitree-sim = g1_bridge.unitree_sim:main",
    ]},
    maintainer="TWIST-G1 maintainers",
    maintainer_email="maintainers@twist-g1.dev",
    description=" ".join(__doc__.split("\n\n", 1)[-1].split()),
    license="BSD-3-Clause",
)
