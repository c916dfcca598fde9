"""twist_policy_node.

The student policy node: MotionReference + RobotState -> JointCommand at 50 Hz with ONNX Runtime, with stale-
input hold and layout checks.
"""

from setuptools import find_packages, setup

PACKAGE = "twist_policy_node"

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
    entry_points={"console_scripts": ["twist_policy = twist_policy_node.policy_node:main"]},
    maintainer="TWIST-G1 maintainers",
    maintainer_email="maintainers@twist-g1.dev",
    description=" ".join(__doc__.split("\n\n", 1)[-1].split()),
    license="BSD-3-Clause",
)
