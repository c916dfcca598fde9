"""twist_bringup.

Bringing up the G1 graph (simulation and real robot): launch files, node parameter files and the rviz2 config; the
launch graph, the graph runner, the closed-loop monitor, the demo/benchmark session and the URDF generator.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "twist_bringup"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "README.md"]),
        (f"share/{PACKAGE}/launch", sorted(glob("launch/*.launch.py"))),
        (f"share/{PACKAGE}/config", sorted(glob("config/*.yaml") + glob("config/*.rviz"))),
    ],
    install_requires=["setuptools", "numpy", "mujoco", "pyyaml"],
    extras_require={"test": ["pytest"]},
    zip_safe=True,
    entry_points={"console_scripts": [
        "g1-urdf = twist_bringup.urdf:main",
    ]},
    maintainer="TWIST-G1 maintainers",
    maintainer_email="maintainers@twist-g1.dev",
    description=" ".join(__doc__.split("\n\n", 1)[-1].split()),
    license="BSD-3-Clause",
)
