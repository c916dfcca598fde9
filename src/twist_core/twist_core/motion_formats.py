"""Readers and writers of the motion formats users have, converting to and from the canonical :class:`Motion`.

Formats (the root is the pelvis; quaternions are converted to wxyz):

* ``canonical``: ``.npz`` with ``twist_motion_version`` (see :mod:`twist_core.motion`).
* ``amass_g1``: AMASS retargeted to the G1, ``.npz`` with ``fps``, ``dof_names``, ``body_names``,
  ``dof_positions``, ``dof_velocities``, ``body_positions``, ``body_rotations`` (wxyz),
  ``body_linear_velocities``, ``body_angular_velocities``; joints matched by name, root = the ``pelvis`` body.
* ``twist``: TWIST ``.pkl`` dict with ``fps``, ``root_pos``, ``root_rot`` (**xyzw**), ``dof_pos`` (T, 23),
  ``local_body_pos``, ``link_body_list``; the six wrist joints take the default pose.
* ``gmr``: GMR ``.pkl``, the same keys with ``dof_pos`` (T, 29) in motor order; ``local_body_pos`` may be None.
* ``mjlab``: mjlab/BeyondMimic ``.npz`` with ``fps``, ``joint_pos``, ``joint_vel`` (motor order),
  ``body_pos_w``, ``body_quat_w`` (wxyz), ``body_lin_vel_w``, ``body_ang_vel_w``; root = body 0.
* ``csv``: the common G1 motion CSV (LAFAN1 retargets, G1 Moves): no header, one row per frame, 36 columns: root
  position x y z [m], root quaternion **x y z w** (``quat_order="wxyz"`` for the other order), the 29 joints in
  motor order [rad]. The file carries no frame rate: it must be given (``fps``).

Every reader validates loudly (shapes, fps, joint count and names, quaternion norm, NaN) and raises
:class:`~twist_core.motion.MotionError` naming the file and the problem. Key bodies are always recomputed by
forward kinematics of the G1 model, so a file's own body lists (whose order differs between tools) are not
trusted. ``.pkl`` files are Python pickles, which can name any function to call while loading: they are read by
:class:`SafeUnpickler`, which builds plain containers, numbers, strings and numpy arrays only and refuses anything
else with a clear error (a crafted file runs no code).
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from twist_core.motion import (QUAT_NORM_TOLERANCE, Motion, MotionError, build_motion, checked_fps,
                               fps_consistency_warning, is_canonical_file, load_motion, save_motion)
from twist_core.robot import RobotSpec

FORMATS = ("canonical", "amass_g1", "twist", "gmr", "mjlab", "csv")
QUAT_ORDERS = ("xyzw", "wxyz")
# What each reader uses, and so requires (velocities, when present, only check the declared fps; body velocities
# are recomputed, so files without them, as other tools write, load)
_AMASS_KEYS = ("fps", "dof_names", "body_names", "dof_positions", "body_positions", "body_rotations")
_MJLAB_KEYS = ("fps", "joint_pos", "body_pos_w", "body_quat_w")
_PKL_KEYS = ("fps", "root_pos", "root_rot", "dof_pos")


def _npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MotionError(f"{path}: cannot read as .npz: {exc}") from None


#: The only globals a motion pickle may name: how numpy pickles arrays, dtypes and scalars (numpy 1 and 2 module
#: names), and the bytes encoding of protocol 2. Dicts, lists, tuples, numbers and strings need none.
PICKLE_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    *((f"numpy.{core}.multiarray", name) for core in ("core", "_core") for name in ("_reconstruct", "scalar")),
    *((f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")),
})


class SafeUnpickler(pickle.Unpickler):
    """Unpickles plain containers, numbers, strings and numpy arrays; any other global is an UnpicklingError."""

    def find_class(self, module: str, name: str) -> Any:
        """The allowed numpy constructors (:data:`PICKLE_GLOBALS`); refuse everything else."""
        if (module, name) in PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: a motion pickle may hold only plain "
                                     "containers, numbers, strings and numpy arrays")


def _pkl(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = SafeUnpickler(f).load()
    except Exception as exc:  # noqa: BLE001 - whatever a malformed pickle raises is "cannot read", not a traceback
        raise MotionError(f"{path}: cannot read as a pickle: {exc}") from None
    if not isinstance(data, dict):
        raise MotionError(f"{path}: expected a dict in the pickle, got {type(data).__name__}")
    return data


def _require(data: dict, keys: tuple[str, ...], path: Path, what: str) -> None:
    missing = [k for k in keys if k not in data or data[k] is None]
    if missing:
        raise MotionError(f"{path}: not a {what} file, missing {missing}")


def _numeric(data: dict, key: str, path: Path, ndim: int, width: int | None = None) -> np.ndarray:
    """``data[key]`` as a float64 array with ``ndim`` dimensions (and last dimension ``width``), else MotionError."""
    try:
        array = np.asarray(data[key], dtype=np.float64)
    except (TypeError, ValueError):
        raise MotionError(f"{path}: {key} must be a numeric array, got {type(data[key]).__name__} "
                          f"{str(data[key])[:40]!r}") from None
    if array.ndim != ndim or (width is not None and array.shape[-1] != width):
        expected = f"{ndim}-D" + (f", last dimension {width}" if width is not None else "")
        raise MotionError(f"{path}: {key} has shape {array.shape}; expected {expected}")
    return array


def _body(data: dict, key: str, index: int, path: Path, width: int) -> np.ndarray:
    """Body ``index`` of a (T, bodies, width) array ``data[key]``."""
    array = _numeric(data, key, path, 3, width)
    if not 0 <= index < array.shape[1]:
        raise MotionError(f"{path}: {key} has {array.shape[1]} bodies; body {index} is needed")
    return array[:, index]


def _names_of(data: dict, key: str, path: Path) -> list[str]:
    """``data[key]`` as a list of names (a 1-D array or list of strings), else MotionError."""
    names = np.asarray(data[key])
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise MotionError(f"{path}: {key} must be a list of names, got {str(data[key])[:60]!r}")
    return [str(n) for n in names]


def detect_format(path: str | Path) -> str:
    """The format of a motion file, from its content (raises MotionError if unknown)."""
    path = Path(path)
    if not path.is_file():
        raise MotionError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        return "csv"
    if path.suffix == ".pkl":
        data = _pkl(path)
        _require(data, _PKL_KEYS, path, "TWIST/GMR .pkl")
        width = _numeric(data, "dof_pos", path, 2).shape[-1]
        return {23: "twist", 29: "gmr"}.get(width) or _fail(f"{path}: dof_pos has {width} joints, not 23 or 29")
    if is_canonical_file(path):
        return "canonical"
    keys = set(_npz(path))
    if {"dof_positions", "body_rotations"} <= keys:
        return "amass_g1"
    if {"joint_pos", "body_quat_w"} <= keys:
        return "mjlab"
    raise MotionError(f"{path}: unknown motion format (keys {sorted(keys)})")


def _fail(message: str):
    raise MotionError(message)


def _joint_order(names: list[str], spec: RobotSpec, path: Path) -> np.ndarray:
    """Column index in the file of each spec joint (names with or without the ``_joint`` suffix)."""
    canonical = [n if n.endswith("_joint") else n + "_joint" for n in names]
    missing = [n for n in spec.joint_names if n not in canonical]
    if missing or len(names) != spec.num_joints:
        raise MotionError(f"{path}: {len(names)} joints in the file; missing {missing}")
    return np.array([canonical.index(n) for n in spec.joint_names])


def _warn_fps(path: Path, fps: float, joint_pos: np.ndarray, joint_vel: np.ndarray) -> None:
    if joint_vel.shape == joint_pos.shape:
        message = fps_consistency_warning(fps, joint_pos, joint_vel)
        if message:
            warnings.warn(f"{path}: {message}", stacklevel=3)


def read_amass_g1(path: Path, spec: RobotSpec) -> Motion:
    """AMASS retargeted to the G1 (``.npz``; joints matched by name, root = the ``pelvis`` body)."""
    data = _npz(path)
    _require(data, _AMASS_KEYS, path, "AMASS-G1")
    order = _joint_order(_names_of(data, "dof_names", path), spec, path)
    bodies = _names_of(data, "body_names", path)
    if spec.model.root_body not in bodies:
        raise MotionError(f"{path}: no {spec.model.root_body!r} in body_names")
    root = bodies.index(spec.model.root_body)
    fps = checked_fps(data["fps"], path)
    joint_pos = _numeric(data, "dof_positions", path, 2, len(order))[:, order]
    if "dof_velocities" in data:
        _warn_fps(path, fps, joint_pos, _numeric(data, "dof_velocities", path, 2, len(order))[:, order])
    return build_motion(spec, fps, _body(data, "body_positions", root, path, 3),
                        _body(data, "body_rotations", root, path, 4), joint_pos,
                        metadata={"source": str(path), "format": "amass_g1", "source_fps": fps})


def read_twist_pkl(path: Path, spec: RobotSpec) -> Motion:
    """TWIST (23 joints) or GMR (29 joints) ``.pkl``; the root quaternion is stored xyzw."""
    data = _pkl(path)
    _require(data, _PKL_KEYS, path, "TWIST/GMR .pkl")
    dof = _numeric(data, "dof_pos", path, 2)
    if dof.shape[1] not in (spec.num_policy_joints, spec.num_joints):
        raise MotionError(f"{path}: dof_pos has shape {dof.shape}; expected (T, 23) or (T, 29)")
    fmt = "twist" if dof.shape[1] == spec.num_policy_joints else "gmr"
    joint_pos = spec.from_policy(dof) if fmt == "twist" else dof
    root_rot = _numeric(data, "root_rot", path, 2, 4)  # xyzw
    fps = checked_fps(data["fps"], path)
    return build_motion(spec, fps, _numeric(data, "root_pos", path, 2, 3), root_rot[:, [3, 0, 1, 2]], joint_pos,
                        metadata={"source": str(path), "format": fmt, "source_fps": fps})


def read_mjlab_npz(path: Path, spec: RobotSpec) -> Motion:
    """mjlab ``.npz`` (joints in motor order, root = body 0)."""
    data = _npz(path)
    _require(data, _MJLAB_KEYS, path, "mjlab")
    fps = checked_fps(data["fps"], path)
    joint_pos = _numeric(data, "joint_pos", path, 2, spec.num_joints)
    if "joint_vel" in data:
        _warn_fps(path, fps, joint_pos, _numeric(data, "joint_vel", path, 2, spec.num_joints))
    return build_motion(spec, fps, _body(data, "body_pos_w", 0, path, 3), _body(data, "body_quat_w", 0, path, 4),
                        joint_pos, metadata={"source": str(path), "format": "mjlab", "source_fps": fps})


def csv_columns(spec: RobotSpec) -> int:
    """Columns of a G1 motion CSV row: root position (3), root quaternion (4), the joints."""
    return 7 + spec.num_joints


def _csv_rows(path: Path, columns: int) -> np.ndarray:
    """The numbers of a header-less CSV, or a MotionError that names the first bad line and column."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise MotionError(f"{path}: cannot read as text: {exc}") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != columns:
            raise MotionError(f"{path}: line {number} has {len(fields)} columns; a G1 motion CSV has {columns} "
                              f"(root x y z, quaternion, {columns - 7} joints)")
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            column = next(i for i, f in enumerate(fields) if not _is_number(f))
            hint = " (the layout has no header row)" if number == 1 else ""
            raise MotionError(f"{path}: line {number}, column {column + 1}: {fields[column].strip()!r} is not a "
                              f"number{hint}") from None
    if not rows:
        raise MotionError(f"{path}: empty file (no frames)")
    return np.asarray(rows, dtype=np.float64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_g1_csv(path: Path, spec: RobotSpec, fps: float | None = None, quat_order: str = "xyzw") -> Motion:
    """A G1 motion CSV (see the module docstring); ``fps`` is required, the file does not carry it."""
    if fps is None:
        raise MotionError(f"{path}: a CSV motion carries no frame rate: give it (motion-tool --fps, e.g. 60 for "
                          "G1 Moves, 30 for LAFAN1 retargets)")
    fps = checked_fps(fps, path)
    if quat_order not in QUAT_ORDERS:
        raise MotionError(f"quaternion order must be one of {QUAT_ORDERS}, not {quat_order!r}")
    rows = _csv_rows(path, csv_columns(spec))
    bad = ~np.isfinite(rows)
    if bad.any():
        line, column = np.argwhere(bad)[0]
        raise MotionError(f"{path}: NaN/Inf in {int(bad.any(axis=1).sum())} frame(s), first at frame {line} "
                          f"(column {column + 1})")
    quat = rows[:, 3:7] if quat_order == "wxyz" else rows[:, [6, 3, 4, 5]]
    norm = np.linalg.norm(quat, axis=1)
    off = np.abs(norm - 1.0) > QUAT_NORM_TOLERANCE
    if off.any():
        first = int(np.argmax(off))
        other = "wxyz" if quat_order == "xyzw" else "xyzw"
        raise MotionError(f"{path}: {int(off.sum())} root quaternion(s) not of unit norm, first at frame {first} "
                          f"(norm {norm[first]:.4f}); are columns 4-7 a quaternion ({quat_order})? Other order: "
                          f"--quat-order {other}")
    _warn_implausible_speed(path, fps, rows[:, 7:], rows[:, :3])
    _warn_not_upright(path, quat / norm[:, None], quat_order)
    return build_motion(spec, fps, rows[:, :3], quat, rows[:, 7:],
                        metadata={"source": str(path), "format": "csv", "source_fps": fps,
                                  "quat_order": quat_order})


#: Beyond these a clip is played too fast: joints of the G1 reach about 20-30 rad/s, a person's pelvis 5 m/s.
IMPLAUSIBLE_JOINT_SPEED, IMPLAUSIBLE_ROOT_SPEED = 40.0, 8.0


def _warn_implausible_speed(path: Path, fps: float, joint_pos: np.ndarray, root_pos: np.ndarray) -> None:
    """The frame-rate check for files without velocities: speeds no body reaches suggest a wrong fps."""
    if len(joint_pos) < 3:
        return
    joint = float(np.percentile(np.abs(np.diff(joint_pos, axis=0)), 99) * fps)
    root = float(np.percentile(np.linalg.norm(np.diff(root_pos, axis=0), axis=1), 99) * fps)
    if joint > IMPLAUSIBLE_JOINT_SPEED or root > IMPLAUSIBLE_ROOT_SPEED:
        warnings.warn(f"{path}: at {fps:g} fps the motion moves implausibly fast (joints {joint:.0f} rad/s, pelvis "
                      f"{root:.1f} m/s at the 99th percentile); is the frame rate right?", stacklevel=3)


def _warn_not_upright(path: Path, quat: np.ndarray, quat_order: str) -> None:
    """A pelvis that is mostly upside down or lying means a quaternion read in the wrong order."""
    x, y = quat[:, 1], quat[:, 2]
    up_z = 1.0 - 2.0 * (x * x + y * y)  # z of the pelvis' up axis in the world
    tilt = float(np.degrees(np.arccos(np.clip(np.median(up_z), -1.0, 1.0))))
    if tilt > 60.0:
        other = "wxyz" if quat_order == "xyzw" else "xyzw"
        warnings.warn(f"{path}: the pelvis is tilted {tilt:.0f} degrees from upright in the median frame; is the "
                      f"quaternion order {quat_order} right (other: --quat-order {other})?", stacklevel=3)


def write_g1_csv(motion: Motion, path: Path, spec: RobotSpec, quat_order: str = "xyzw") -> None:
    """A G1 motion CSV (root xyz, quaternion xyzw or wxyz, joints); the frame rate is not stored."""
    quat = motion.root_quat if quat_order == "wxyz" else motion.root_quat[:, [1, 2, 3, 0]]
    np.savetxt(path, np.column_stack([motion.root_pos, quat, motion.joint_pos]), delimiter=",", fmt="%.6f")


READERS: dict[str, Callable[[Path, RobotSpec], Motion]] = {
    "canonical": lambda path, spec: load_motion(path, spec),
    "amass_g1": read_amass_g1,
    "twist": read_twist_pkl,
    "gmr": read_twist_pkl,
    "mjlab": read_mjlab_npz,
}


def read_motion(path: str | Path, spec: RobotSpec, fmt: str | None = None, fps: float | None = None,
                quat_order: str = "xyzw") -> Motion:
    """Read any supported motion file into a canonical Motion (format detected unless given).

    ``fps`` is the frame rate of a file that does not carry one (CSV: required); for a file that carries one it
    may be given as a check, and a disagreement is an error. ``quat_order`` is the CSV's quaternion order.
    """
    path = Path(path)
    if not path.is_file():
        raise MotionError(f"{path}: no such file")
    fmt = fmt or detect_format(path)
    if fmt not in READERS and fmt != "csv":
        raise MotionError(f"unknown format {fmt!r}; known: {FORMATS}")
    if fmt == "csv":
        return read_g1_csv(path, spec, fps, quat_order)
    motion = READERS[fmt](path, spec)
    if fps is not None and abs(checked_fps(fps) - motion.fps) > 1e-6:
        raise MotionError(f"{path}: the file says {motion.fps:g} fps, the given {float(fps):g} disagrees (the frame "
                          "rate is needed only for files without one, such as CSV)")
    return motion


# -- writers (export, and the round-trip tests) -----------------------------------------------------------
def _bodies_world(motion: Motion) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Root + key bodies as a body list: positions, orientations (root's for all), velocities."""
    n, k = motion.num_frames, len(motion.key_body_names)
    pos = np.concatenate([motion.root_pos[:, None], motion.key_body_pos], axis=1)
    quat = np.repeat(motion.root_quat[:, None], k + 1, axis=1)
    lin = np.concatenate([motion.root_lin_vel[:, None], np.gradient(motion.key_body_pos, 1 / motion.fps, axis=0)],
                         axis=1)
    ang = np.repeat(motion.root_ang_vel[:, None], k + 1, axis=1)
    assert pos.shape == (n, k + 1, 3)
    return pos, quat, lin, ang


def write_amass_g1(motion: Motion, path: Path, spec: RobotSpec) -> None:
    """AMASS-G1 ``.npz``: the pelvis plus the key bodies (only the pelvis entry has its own orientation)."""
    pos, quat, lin, ang = _bodies_world(motion)
    with open(path, "wb") as f:  # a file object: numpy would append .npz to a path without it
        np.savez(f, fps=np.array([motion.fps]), dof_names=np.array(spec.joint_names),
                 body_names=np.array([spec.model.root_body, *motion.key_body_names]),
                 dof_positions=motion.joint_pos, dof_velocities=motion.joint_vel, body_positions=pos,
                 body_rotations=quat, body_linear_velocities=lin, body_angular_velocities=ang)


def write_twist_pkl(motion: Motion, path: Path, spec: RobotSpec, joints: int = 23) -> None:
    """TWIST (23 joints) or GMR (29 joints) ``.pkl``; local body positions relative to the root."""
    dof = spec.to_policy(motion.joint_pos) if joints == spec.num_policy_joints else motion.joint_pos
    with open(path, "wb") as f:
        pickle.dump({"fps": motion.fps, "root_pos": motion.root_pos, "root_rot": motion.root_quat[:, [1, 2, 3, 0]],
                     "dof_pos": dof, "local_body_pos": motion.key_body_pos_local(),
                     "link_body_list": list(motion.key_body_names)}, f)


def write_mjlab_npz(motion: Motion, path: Path, spec: RobotSpec) -> None:
    """mjlab ``.npz`` with the pelvis as body 0 followed by the key bodies."""
    pos, quat, lin, ang = _bodies_world(motion)
    with open(path, "wb") as f:
        np.savez(f, fps=np.array([motion.fps]), joint_pos=motion.joint_pos, joint_vel=motion.joint_vel,
                 body_pos_w=pos, body_quat_w=quat, body_lin_vel_w=lin, body_ang_vel_w=ang)


WRITERS: dict[str, Callable[[Motion, Path, RobotSpec], None]] = {
    "canonical": lambda motion, path, spec: save_motion(motion, path),
    "amass_g1": write_amass_g1,
    "twist": write_twist_pkl,
    "gmr": lambda motion, path, spec: write_twist_pkl(motion, path, spec, joints=spec.num_joints),
    "mjlab": write_mjlab_npz,
    "csv": write_g1_csv,
}


def write_motion(motion: Motion, path: str | Path, spec: RobotSpec, fmt: str = "canonical") -> Path:
    """Write a Motion in one of the supported formats."""
    if fmt not in WRITERS:
        raise MotionError(f"unknown format {fmt!r}; known: {FORMATS}")
    path = Path(path)
    WRITERS[fmt](motion, path, spec)
    return path
