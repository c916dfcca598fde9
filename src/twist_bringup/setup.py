"""twist_bringup.

Launch files and configuration of the G1 graph (simulation and real robot): node parameter files and the rviz2
config, installed to this package's share directory.
"""

from glob import glob

from setuptools import setup

PACKAGE = "twist_bringup"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "README.md"]),
        (f"share/{PACKAGE}/launch", sorted(glob("launch/*.launch.py"))),
        (f"share/{PACKAGE}/config", sorted(glob("config/*.yaml") + glob("config/*.rviz"))),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},
    zip_safe=True,
    maintainer="TWIST-G1 maintainers",
    maintainer_email="maintainers@twist-g1.dev",
    description=" ".join(__doc__.split("\n\n", 1)[-1].split()),
    license="BSD-3-Clause",
)
