"""twist_teleop.

Drive the G1 without the ROS 2 command-line tools: twist-ctl (the bridge's start/go/damp/status, cmd_vel) and a
keyboard teleop.
"""

from setuptools import find_packages, setup

PACKAGE = "twist_teleop"

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
    entry_points={"console_scripts": [
        "twist-ctl = twist_teleop.ctl:main",
        "teleop-keyboard = twist_teleop.keyboard:main",
        "joy_teleop = twist_teleop.joy_teleop:main",
    ]},
    maintainer="TWIST-G1 maintainers",
    maintainer_email="maintainers@twist-g1.dev",
    description=" ".join(__doc__.split("\n\n", 1)[-1].split()),
    license="BSD-3-Clause",
)
