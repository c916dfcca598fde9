"""A crafted pickle for the tests of the motion readers (the synthetic walking clip is twist_core.toy_models)."""

from __future__ import annotations

import pickle
from pathlib import Path

from twist_core.motion import Motion
from twist_core.robot import RobotSpec


class OpenOnLoad:
    """A crafted pickle payload: unpickling this object calls ``open(marker, 'w')`` (``marker`` appears)."""

    def __init__(self, marker: Path) -> None:
        """The file the payload creates."""
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def malicious_pickle(path: Path, marker: Path, motion: Motion, spec: RobotSpec) -> Path:
    """A TWIST ``.pkl`` of ``motion`` whose ``root_pos`` creates the file ``marker`` if ``pickle.load`` reads it."""
    path = Path(path)
    path.write_bytes(pickle.dumps({"fps": motion.fps, "root_pos": OpenOnLoad(marker),
                                   "root_rot": motion.root_quat[:, [1, 2, 3, 0]],
                                   "dof_pos": spec.to_policy(motion.joint_pos)}))
    return path
