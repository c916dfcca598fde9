"""The robot spec: joint order, default pose, gains, limits, key bodies and index maps.

Everything here is loaded from ``config/g1.yaml`` and validated strictly: an unknown key, a missing
key, a duplicated name, a default outside its limits or a malformed value raises
:class:`RobotSpecError` with the path of the offending entry. :func:`load_robot_spec` also
cross-checks the spec against the MuJoCo model (see :mod:`twist_core.model`) unless told not to.

Index maps (all derived, none typed twice):

* ``policy_indices``: for each of the policy joints (29 minus the excluded wrists), its index in the
  full 29-joint motor order. ``to_policy(x)`` takes ``x[..., policy_indices]``;
  ``from_policy(y, fill)`` scatters back.
* ``mirror_permutation`` / ``mirror_signs``: ``mirror(x) = mirror_signs * x[..., mirror_permutation]``
  maps a joint vector to its left/right reflection. Applying it twice is the identity.
* ``group_indices(name)``: motor indices of a named joint group (``joint_groups`` in the config, e.g.
  ``upper_body``: the waist and arms that teleoperation streams while the legs walk).
"""

from __future__ import annotations

import dataclasses
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import yaml

CONFIG_ENV = "TWIST_G1_CONFIG"
SCHEMA_VERSION = 1


class RobotSpecError(ValueError):
    """The robot configuration is invalid or disagrees with the robot model."""


@dataclasses.dataclass(frozen=True)
class JointSpec:
    """One actuated joint."""

    name: str
    default: float
    kp: float
    kd: float
    kp_max: float
    kd_max: float
    effort: float
    velocity: float
    lower: float
    upper: float
    armature: float


@dataclasses.dataclass(frozen=True)
class KeyBody:
    """A point fixed on a model body (``offset`` in the body frame, metres)."""

    name: str
    body: str
    offset: tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Where the MuJoCo model comes from and which of its elements matter."""

    menagerie_robot: str
    scene_entry: str
    robot_entry: str
    root_body: str
    anchor_body: str
    imu_site: str
    feet: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class MirrorSpec:
    """How names map between the left and right side and which joint axes flip sign."""

    left_prefix: str
    right_prefix: str
    negated_axes: tuple[str, ...]

    def swap(self, name: str) -> str:
        """The name of the mirror-image element (itself for a centre element)."""
        if name.startswith(self.left_prefix):
            return self.right_prefix + name[len(self.left_prefix):]
        if name.startswith(self.right_prefix):
            return self.left_prefix + name[len(self.right_prefix):]
        return name

    def sign(self, joint_name: str) -> float:
        """-1 for a joint about a negated axis (roll, yaw), else +1."""
        words = joint_name.split("_")
        return -1.0 if any(axis in words for axis in self.negated_axes) else 1.0


@dataclasses.dataclass(frozen=True)
class RobotSpec:
    """The validated robot configuration. Arrays are in motor order unless named ``policy_*``."""

    name: str
    model: ModelSpec
    mirror_spec: MirrorSpec
    joints: tuple[JointSpec, ...]
    policy_joint_names: tuple[str, ...]
    key_bodies: tuple[KeyBody, ...]
    source: Path | None = None
    joint_groups: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    # -- joint tables -------------------------------------------------------------------------
    @property
    def num_joints(self) -> int:
        """Number of actuated joints (29)."""
        return len(self.joints)

    @property
    def num_policy_joints(self) -> int:
        """Number of joints the policy acts on (23)."""
        return len(self.policy_joint_names)

    @cached_property
    def joint_names(self) -> tuple[str, ...]:
        """Joint names in motor order."""
        return tuple(j.name for j in self.joints)

    def _column(self, field: str) -> np.ndarray:
        values = np.array([getattr(j, field) for j in self.joints], dtype=np.float64)
        values.setflags(write=False)
        return values

    @cached_property
    def default_pose(self) -> np.ndarray:
        """Default joint positions [rad], read-only."""
        return self._column("default")

    @cached_property
    def kp(self) -> np.ndarray:
        """Proportional gains [N*m/rad], read-only."""
        return self._column("kp")

    @cached_property
    def kd(self) -> np.ndarray:
        """Derivative gains [N*m*s/rad], read-only."""
        return self._column("kd")

    @cached_property
    def kp_max(self) -> np.ndarray:
        """Largest proportional gain a command may ask [N*m/rad], read-only."""
        return self._column("kp_max")

    @cached_property
    def kd_max(self) -> np.ndarray:
        """Largest derivative gain a command may ask [N*m*s/rad], read-only."""
        return self._column("kd_max")

    @cached_property
    def velocity_limits(self) -> np.ndarray:
        """Symmetric joint velocity limits [rad/s], read-only (command velocity targets are clamped to them)."""
        return self._column("velocity")

    @cached_property
    def effort_limits(self) -> np.ndarray:
        """Symmetric torque limits [N*m], read-only."""
        return self._column("effort")

    @cached_property
    def lower_limits(self) -> np.ndarray:
        """Lower position limits [rad], read-only."""
        return self._column("lower")

    @cached_property
    def upper_limits(self) -> np.ndarray:
        """Upper position limits [rad], read-only."""
        return self._column("upper")

    @cached_property
    def armature(self) -> np.ndarray:
        """Reflected rotor inertia [kg*m^2], read-only."""
        return self._column("armature")

    def joint_index(self, name: str) -> int:
        """Motor index of a joint; KeyError with the known names otherwise."""
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise KeyError(f"unknown joint {name!r}; known joints: {', '.join(self.joint_names)}") from None

    def indices_of(self, names: Sequence[str]) -> np.ndarray:
        """Motor indices of ``names``; raises RobotSpecError on unknown or duplicated names."""
        names = list(names)
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise RobotSpecError(f"duplicated joint names: {dupes}")
        unknown = [n for n in names if n not in self.joint_names]
        if unknown:
            raise RobotSpecError(f"unknown joint names: {unknown}")
        return np.array([self.joint_names.index(n) for n in names], dtype=np.int64)

    def group_indices(self, group: str) -> np.ndarray:
        """Motor indices (sorted) of the joints of ``joint_groups[group]``; KeyError naming the known groups."""
        if group not in self.joint_groups:
            raise KeyError(f"unknown joint group {group!r}; known groups: {', '.join(sorted(self.joint_groups))}")
        return np.sort(self.indices_of(self.joint_groups[group]))

    # -- 29 <-> 23 ----------------------------------------------------------------------------
    @cached_property
    def policy_indices(self) -> np.ndarray:
        """Motor index of each policy joint, in policy order."""
        idx = self.indices_of(self.policy_joint_names)
        idx.setflags(write=False)
        return idx

    @cached_property
    def excluded_indices(self) -> np.ndarray:
        """Motor indices of the joints the policy does not drive."""
        idx = np.array(sorted(set(range(self.num_joints)) - set(self.policy_indices.tolist())), dtype=np.int64)
        idx.setflags(write=False)
        return idx

    def to_policy(self, full: np.ndarray) -> np.ndarray:
        """Select the policy joints from a ``(..., 29)`` array."""
        full = np.asarray(full)
        _check_last_dim(full, self.num_joints, "to_policy")
        return full[..., self.policy_indices]

    def from_policy(self, policy: np.ndarray, fill: np.ndarray | float | None = None) -> np.ndarray:
        """Scatter a ``(..., 23)`` array into motor order; other joints take ``fill`` (default pose)."""
        policy = np.asarray(policy, dtype=np.float64)
        _check_last_dim(policy, self.num_policy_joints, "from_policy")
        fill_values = self.default_pose if fill is None else fill
        full = np.broadcast_to(np.asarray(fill_values, dtype=np.float64),
                               policy.shape[:-1] + (self.num_joints,)).copy()
        full[..., self.policy_indices] = policy
        return full

    # -- mirror -------------------------------------------------------------------------------
    @cached_property
    def mirror_permutation(self) -> np.ndarray:
        """``mirror_permutation[i]`` is the motor index of joint i's mirror image."""
        perm = self.indices_of([self.mirror_spec.swap(n) for n in self.joint_names])
        perm.setflags(write=False)
        return perm

    @cached_property
    def mirror_signs(self) -> np.ndarray:
        """+1 or -1 per joint: the sign of the reflected angle."""
        signs = np.array([self.mirror_spec.sign(n) for n in self.joint_names])
        signs.setflags(write=False)
        return signs

    def mirror(self, joints: np.ndarray) -> np.ndarray:
        """Reflect a ``(..., 29)`` joint-position or joint-velocity array left <-> right."""
        joints = np.asarray(joints)
        _check_last_dim(joints, self.num_joints, "mirror")
        return self.mirror_signs * joints[..., self.mirror_permutation]

    @cached_property
    def key_body_names(self) -> tuple[str, ...]:
        """Key-body names in configuration order."""
        return tuple(k.name for k in self.key_bodies)

    @cached_property
    def key_body_mirror_permutation(self) -> np.ndarray:
        """``perm[k]``: index of key body k's mirror image."""
        names = self.key_body_names
        perm = np.array([names.index(self.mirror_spec.swap(n)) for n in names], dtype=np.int64)
        perm.setflags(write=False)
        return perm


def _check_last_dim(array: np.ndarray, expected: int, what: str) -> None:
    if array.ndim == 0 or array.shape[-1] != expected:
        raise ValueError(f"{what}: expected an array with last dimension {expected}, got shape {array.shape}")


# ---------------------------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------------------------
_TOP_KEYS = {"schema_version", "name", "model", "mirror", "joints", "policy", "key_bodies"}
_OPTIONAL_TOP_KEY = "joint_groups"
_MODEL_KEYS = {f.name for f in dataclasses.fields(ModelSpec)}
_MIRROR_KEYS = {f.name for f in dataclasses.fields(MirrorSpec)}
_JOINT_KEYS = {"name", "default", "kp", "kd", "kp_max", "kd_max", "effort", "velocity", "range", "armature"}
_POLICY_KEYS = {"excluded_joints"}
_KEY_BODY_KEYS = {"name", "body", "offset"}


def _mapping(value: Any, where: str, keys: set[str]) -> Mapping[str, Any]:
    """Check ``value`` is a mapping with exactly ``keys``."""
    if not isinstance(value, Mapping):
        raise RobotSpecError(f"{where}: expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise RobotSpecError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(keys)}")
    missing = sorted(keys - set(value))
    if missing:
        raise RobotSpecError(f"{where}: missing key(s) {missing}")
    return value


def _number(value: Any, where: str, *, positive: bool = False, non_negative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RobotSpecError(f"{where}: expected a number, got {value!r}")
    number = float(value)
    if not np.isfinite(number):
        raise RobotSpecError(f"{where}: must be finite, got {value!r}")
    if positive and number <= 0:
        raise RobotSpecError(f"{where}: must be > 0, got {value!r}")
    if non_negative and number < 0:
        raise RobotSpecError(f"{where}: must be >= 0, got {value!r}")
    return number


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise RobotSpecError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise RobotSpecError(f"{where}: expected a list of names, got {value!r}")
    names = tuple(_name(v, f"{where}[{i}]") for i, v in enumerate(value))
    _no_duplicates(names, where)
    return names


def _vector(value: Any, where: str, length: int) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != length:
        raise RobotSpecError(f"{where}: expected a list of {length} numbers, got {value!r}")
    return tuple(_number(v, f"{where}[{i}]") for i, v in enumerate(value))


def _no_duplicates(names: Sequence[str], where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise RobotSpecError(f"{where}: duplicated name {name!r}")
        seen.add(name)


def _parse_joint(raw: Any, where: str) -> JointSpec:
    raw = _mapping(raw, where, _JOINT_KEYS)
    name = _name(raw["name"], f"{where}.name")
    where = f"{where} ({name})"
    lower, upper = _vector(raw["range"], f"{where}.range", 2)
    if not lower < upper:
        raise RobotSpecError(f"{where}.range: lower {lower} must be below upper {upper}")
    default = _number(raw["default"], f"{where}.default")
    if not lower <= default <= upper:
        raise RobotSpecError(f"{where}.default: {default} outside the joint range [{lower}, {upper}]")
    gains = {key: _number(raw[key], f"{where}.{key}", non_negative=True) for key in ("kp", "kd", "kp_max", "kd_max")}
    for gain in ("kp", "kd"):
        if gains[gain] > gains[f"{gain}_max"]:
            raise RobotSpecError(f"{where}.{gain}: {gains[gain]} above {gain}_max {gains[f'{gain}_max']}")
    return JointSpec(
        name=name,
        default=default,
        **gains,
        effort=_number(raw["effort"], f"{where}.effort", positive=True),
        velocity=_number(raw["velocity"], f"{where}.velocity", positive=True),
        lower=lower,
        upper=upper,
        armature=_number(raw["armature"], f"{where}.armature", non_negative=True),
    )


def parse_robot_spec(data: Any, source: Path | None = None) -> RobotSpec:
    """Validate a loaded YAML document and build the :class:`RobotSpec` (no model check)."""
    where = str(source) if source else "robot config"
    groups_raw = data.get(_OPTIONAL_TOP_KEY, {}) if isinstance(data, Mapping) else {}
    if isinstance(data, Mapping):
        data = {key: value for key, value in data.items() if key != _OPTIONAL_TOP_KEY}
    data = _mapping(data, where, _TOP_KEYS)
    if data["schema_version"] != SCHEMA_VERSION:
        raise RobotSpecError(f"{where}: schema_version {data['schema_version']!r} is not {SCHEMA_VERSION}")

    model_raw = _mapping(data["model"], f"{where}: model", _MODEL_KEYS)
    model = ModelSpec(
        **{k: _name(model_raw[k], f"{where}: model.{k}") for k in _MODEL_KEYS - {"feet"}},
        feet=_names(model_raw["feet"], f"{where}: model.feet"),
    )
    mirror_raw = _mapping(data["mirror"], f"{where}: mirror", _MIRROR_KEYS)
    mirror_spec = MirrorSpec(
        left_prefix=_name(mirror_raw["left_prefix"], f"{where}: mirror.left_prefix"),
        right_prefix=_name(mirror_raw["right_prefix"], f"{where}: mirror.right_prefix"),
        negated_axes=_names(mirror_raw["negated_axes"], f"{where}: mirror.negated_axes"),
    )

    if not isinstance(data["joints"], list) or not data["joints"]:
        raise RobotSpecError(f"{where}: joints must be a non-empty list")
    joints = tuple(_parse_joint(j, f"{where}: joints[{i}]") for i, j in enumerate(data["joints"]))
    joint_names = [j.name for j in joints]
    _no_duplicates(joint_names, f"{where}: joints")

    policy_raw = _mapping(data["policy"], f"{where}: policy", _POLICY_KEYS)
    excluded = _names(policy_raw["excluded_joints"], f"{where}: policy.excluded_joints")
    unknown = [n for n in excluded if n not in joint_names]
    if unknown:
        raise RobotSpecError(f"{where}: policy.excluded_joints names unknown joint(s) {unknown}")
    policy_joint_names = tuple(n for n in joint_names if n not in excluded)

    if not isinstance(data["key_bodies"], list):
        raise RobotSpecError(f"{where}: key_bodies must be a list")
    key_bodies = []
    for i, raw in enumerate(data["key_bodies"]):
        raw = _mapping(raw, f"{where}: key_bodies[{i}]", _KEY_BODY_KEYS)
        key_bodies.append(KeyBody(
            name=_name(raw["name"], f"{where}: key_bodies[{i}].name"),
            body=_name(raw["body"], f"{where}: key_bodies[{i}].body"),
            offset=_vector(raw["offset"], f"{where}: key_bodies[{i}].offset", 3),
        ))
    _no_duplicates([k.name for k in key_bodies], f"{where}: key_bodies")

    spec = RobotSpec(name=_name(data["name"], f"{where}: name"), model=model, mirror_spec=mirror_spec,
                     joints=joints, policy_joint_names=policy_joint_names, key_bodies=tuple(key_bodies),
                     source=source, joint_groups=_parse_groups(groups_raw, joint_names, where))
    _check_mirror(spec, where)
    return spec


def _parse_groups(raw: Any, joint_names: Sequence[str], where: str) -> dict[str, tuple[str, ...]]:
    """``joint_groups``: group name -> joint names, each a known joint, none twice in a group."""
    if not isinstance(raw, Mapping):
        raise RobotSpecError(f"{where}: joint_groups must be a mapping of group name -> joint names")
    groups = {}
    for group, names in raw.items():
        names = _names(names, f"{where}: joint_groups.{group}")
        unknown = [n for n in names if n not in joint_names]
        if unknown:
            raise RobotSpecError(f"{where}: joint_groups.{group} names unknown joint(s) {unknown}")
        groups[_name(group, f"{where}: joint_groups")] = names
    return groups


def _check_mirror(spec: RobotSpec, where: str) -> None:
    """Every left/right element has its counterpart, and the default pose is symmetric."""
    swap = spec.mirror_spec.swap
    excluded = set(spec.joint_names) - set(spec.policy_joint_names)
    for kind, names in (("joint", spec.joint_names), ("key body", spec.key_body_names),
                        ("foot", spec.model.feet), ("excluded joint", excluded)):
        missing = sorted(swap(n) for n in names if swap(n) not in names)
        if missing:
            raise RobotSpecError(f"{where}: mirror counterpart(s) of {kind}(s) missing: {missing}")
    asymmetric = [n for n, d, m in zip(spec.joint_names, spec.default_pose, spec.mirror(spec.default_pose))
                  if not np.isclose(d, m)]
    if asymmetric:
        raise RobotSpecError(f"{where}: default pose is not left/right symmetric at {asymmetric}")


def default_config_path() -> Path:
    """The robot config to use: $TWIST_G1_CONFIG, else the workspace's config/g1.yaml."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    source_tree = Path(__file__).resolve().parents[1] / "config" / "g1.yaml"
    if source_tree.is_file():
        return source_tree
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory("twist_core")) / "config" / "g1.yaml"
    except (ImportError, LookupError) as exc:
        raise RobotSpecError(f"cannot find config/g1.yaml (set {CONFIG_ENV}): {exc}") from exc


def load_robot_spec(path: str | os.PathLike | None = None, *, check_model: bool = True) -> RobotSpec:
    """Load and validate the robot config; by default also cross-check it against the MuJoCo model.

    Args:
        path: YAML file; defaults to :func:`default_config_path`.
        check_model: compare names, position limits and effort limits with the MuJoCo model and
            raise :class:`RobotSpecError` listing every mismatch.
    """
    path = Path(path) if path is not None else default_config_path()
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RobotSpecError(f"cannot read robot config {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise RobotSpecError(f"robot config {path} is not valid YAML: {exc}") from exc
    spec = parse_robot_spec(data, source=path)
    if check_model:
        from twist_core.model import check_spec_against_model, load_model
        check_spec_against_model(spec, load_model(spec, entry=spec.model.robot_entry))
    return spec
