"""twist_reference.

Reference publishers: the Conditional Motion Generator node (cmd_vel -> 29-DOF reference at 50 Hz, ONNX
Runtime), the mocap reference node (plays a motion file) and the teleoperation reference node (a live stream of
retargeted poses).
"""

from setuptools import find_packages, setup

PACKAGE = "twist_reference"

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
    entry_points={"console_scripts": ["mocap_reference = twist_reference.mocap_reference:main",
                                      "cmg_reference = twist_reference.cmg_reference:main",
                                      "teleop_reference = twist_reference.teleop_reference:main",
                                      "teleop-replay = twist_reference.teleop_replay:main"]},
    maintainer="TWIST-G1 maintainers",
    maintainer_email="maintainers@twist-g1.dev",
    description=" ".join(__doc__.split("\n\n", 1)[-1].split()),
    license="BSD-3-Clause",
)
