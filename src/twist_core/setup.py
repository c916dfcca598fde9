"""twist_core: robot spec, simulation, motions, model runtimes, safety and toy models (no rclpy, no torch)."""

from setuptools import find_packages, setup

PACKAGE = "twist_core"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "README.md"]),
        # The single robot config (the workspace-level config/g1.yaml links here).
        (f"share/{PACKAGE}/config", ["config/g1.yaml"]),
    ],
    install_requires=["setuptools", "numpy", "pyyaml", "mujoco", "mujoco-menagerie", "matplotlib"],
    extras_require={"test": ["pytest"]},
    zip_safe=True,
    entry_points={"console_scripts": ["motion-tool = twist_core.motion_tool:main"]},
    maintainer="TWIST-G1 maintainers",
    maintainer_email="maintainers@twist-g1.dev",
    description=" ".join(__doc__.split("\n\n", 1)[-1].split()),
    license="BSD-3-Clause",
)
