"""twist_core: robot spec, motion formats, observation layouts and safety primitives (numpy only)."""

from setuptools import find_packages, setup

PACKAGE = "twist_core"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        # The single robot config (the workspace-level config/g1.yaml links here).
        (f"share/{PACKAGE}/config", ["config/g1.yaml"]),
    ],
    install_requires=["setuptools", "numpy", "pyyaml", "mujoco", "mujoco-menagerie"],
    zip_safe=True,
    maintainer="TWIST-G1 maintainers",
    maintainer_email="maintainers@twist-g1.dev",
    description=__doc__,
    license="BSD-3-Clause",
)
