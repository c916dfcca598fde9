"""twist_training.

Offline training: motion data tools, CMG training, TWIST teacher (PPO) and student (PPO + distillation), ONNX
export and evaluation.
"""

from setuptools import find_packages, setup

PACKAGE = "twist_training"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "README.md"]),
    ],
    install_requires=["setuptools", "numpy", "scipy", "mujoco", "tqdm", "matplotlib", "torch", "onnx", "onnxruntime",
                      "tensorboard", "rsl-rl-lib", "tensordict", "pyyaml"],
    extras_require={"test": ["pytest"]},
    zip_safe=True,
    entry_points={"console_scripts": [
        "walk-dataset = twist_training.walking.dataset:main",
        "walk-physics-check = twist_training.walking.physics_check:main",
        "cmg-prepare = twist_training.cmg.data:main",
        "cmg-train = twist_training.cmg.train:main",
        "cmg-eval = twist_training.cmg.evaluate:main",
        "cmg-export = twist_training.cmg.export:main",
        "train-teacher = twist_training.tracking.train:main_teacher",
        "train-student = twist_training.tracking.train:main_student",
        "export-policy = twist_training.tracking.export:main",
        "mocap-prepare = twist_training.mocap.prepare:main",
        "eval-policy = twist_training.tracking.evaluate:main",
    ]},
    maintainer="TWIST-G1 maintainers",
    maintainer_email="maintainers@twist-g1.dev",
    description=" ".join(__doc__.split("\n\n", 1)[-1].split()),
    license="BSD-3-Clause",
)
