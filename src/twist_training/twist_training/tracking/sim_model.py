"""The training model of the G1: the bridge's PD model plus the sensors the tracking task reads.

Same scene, actuators, effort limits and armature as the MuJoCo bridge (``twist_core.sim.pd_model``), compiled
from the menagerie files with these sensors added (all computed by MuJoCo, so both backends get them in C/Warp):

- ``framepos`` of every key body point of ``config/g1.yaml`` (a site at the configured offset), world frame;
- ``touch`` under each foot (a box site around the foot's collision spheres): normal contact force [N];
- ``framelinvel`` of each foot site, world frame (for the slip penalty);
- ``framequat`` and ``gyro`` of the pelvis IMU site (what the real IMU measures);
- ``actuatorfrc`` of every joint actuator, motor order (applied torque after the effort clip).

Two collision models (``collision``):

- ``full``: the menagerie's, as in the bridge: convex meshes on every link colliding with everything but their
  parent (the shipped walking models were trained on it);
- ``capsules``: every collision mesh replaced by the capsule MuJoCo fits to it (same links, same contact
  filtering, the feet's spheres unchanged), and the pairs of links whose capsules overlap in the default pose
  (elbow and wrist pitch: design overlaps, not contacts) excluded. Capsule pairs are analytic where meshes need
  GJK/EPA: 1.5-1.8x the physics rate on the CPU (``scripts/bench_tracking.py --collision``), for a model that
  touches the floor with the same feet and keeps the arms out of the torso; a policy trained on it is checked on
  the full model through the bridge (sim-to-sim).
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from twist_core.model import foot_spheres, load_model, model_xml
from twist_core.robot import RobotSpec
from twist_core.sim import joint_actuators, pd_model

FOOT_SITE_MARGIN = 0.02
COLLISION_MODELS = ("full", "capsules")


@dataclasses.dataclass(frozen=True)
class SensorLayout:
    """Slices of ``sensordata`` for each group of added sensors."""

    key_body_pos: slice
    foot_force: slice
    foot_vel: slice
    imu_quat: slice
    imu_gyro: slice
    joint_torque: slice


def _foot_site_geometry(spec: RobotSpec) -> list[tuple[np.ndarray, np.ndarray]]:
    """Centre and half-size of a box around each foot's collision spheres, in the foot body frame."""
    model = load_model(spec, spec.model.scene_entry)
    boxes = []
    for ids in foot_spheres(spec, model):
        pos = model.geom_pos[ids]
        radius = model.geom_size[ids, 0].max()
        low, high = pos.min(0) - radius - FOOT_SITE_MARGIN, pos.max(0) + radius + FOOT_SITE_MARGIN
        boxes.append(((low + high) / 2, (high - low) / 2))
    return boxes


def _capsule_collisions(mjspec: mujoco.MjSpec) -> None:
    """Replace every colliding mesh geom by its fitted capsule; exclude link pairs overlapping in the default pose."""
    for geom in mjspec.geoms:
        if geom.type == mujoco.mjtGeom.mjGEOM_MESH and (geom.contype or geom.conaffinity):
            geom.type = mujoco.mjtGeom.mjGEOM_CAPSULE  # compiled: fitted to the mesh's equivalent inertia box
    model = mjspec.compile()
    data = mujoco.MjData(model)
    data.qpos[2] += 1.0  # in the air: only the robot's own contacts
    mujoco.mj_forward(model, data)
    pairs = {tuple(sorted((int(model.geom_bodyid[c.geom1]), int(model.geom_bodyid[c.geom2]))))
             for c in data.contact[:data.ncon]}
    for a, b in sorted(pairs):
        mjspec.add_exclude(bodyname1=model.body(a).name, bodyname2=model.body(b).name)


def training_model(spec: RobotSpec, physics_dt: float,
                   collision: str = "full") -> tuple[mujoco.MjModel, SensorLayout]:
    """The compiled training model (PD actuators as in the bridge) and where its sensors are."""
    if collision not in COLLISION_MODELS:
        raise ValueError(f"collision must be one of {', '.join(COLLISION_MODELS)}, not {collision!r}")
    mjspec = mujoco.MjSpec.from_file(str(model_xml(spec, spec.model.scene_entry)))
    if collision == "capsules":
        _capsule_collisions(mjspec)
    first = len(mjspec.sensors)
    for key in spec.key_bodies:
        body = mjspec.body(key.body)
        body.add_site(name=f"twist_key_{key.name}", pos=list(key.offset))
        mjspec.add_sensor(name=f"twist_key_{key.name}", type=mujoco.mjtSensor.mjSENS_FRAMEPOS,
                          objtype=mujoco.mjtObj.mjOBJ_SITE, objname=f"twist_key_{key.name}")
    for foot, (centre, half) in zip(spec.model.feet, _foot_site_geometry(spec)):
        mjspec.body(foot).add_site(name=f"twist_sole_{foot}", pos=list(centre), size=list(half),
                                   type=mujoco.mjtGeom.mjGEOM_BOX)
    for foot in spec.model.feet:
        mjspec.add_sensor(name=f"twist_touch_{foot}", type=mujoco.mjtSensor.mjSENS_TOUCH,
                          objtype=mujoco.mjtObj.mjOBJ_SITE, objname=f"twist_sole_{foot}")
    for foot in spec.model.feet:
        mjspec.add_sensor(name=f"twist_vel_{foot}", type=mujoco.mjtSensor.mjSENS_FRAMELINVEL,
                          objtype=mujoco.mjtObj.mjOBJ_SITE, objname=f"twist_sole_{foot}")
    mjspec.add_sensor(name="twist_imu_quat", type=mujoco.mjtSensor.mjSENS_FRAMEQUAT,
                      objtype=mujoco.mjtObj.mjOBJ_SITE, objname=spec.model.imu_site)
    mjspec.add_sensor(name="twist_imu_gyro", type=mujoco.mjtSensor.mjSENS_GYRO,
                      objtype=mujoco.mjtObj.mjOBJ_SITE, objname=spec.model.imu_site)
    base = mjspec.compile()
    names = [base.actuator(int(a)).name for a in joint_actuators(spec, base)]
    for name in names:
        mjspec.add_sensor(name=f"twist_tau_{name}", type=mujoco.mjtSensor.mjSENS_ACTUATORFRC,
                          objtype=mujoco.mjtObj.mjOBJ_ACTUATOR, objname=name)
    model = pd_model(spec, mjspec.compile(), 1.0 / physics_dt)
    adr = model.sensor_adr
    k = len(spec.key_bodies)
    start = int(adr[first])
    layout = SensorLayout(
        key_body_pos=slice(start, start + 3 * k),
        foot_force=slice(start + 3 * k, start + 3 * k + 2),
        foot_vel=slice(start + 3 * k + 2, start + 3 * k + 8),
        imu_quat=slice(start + 3 * k + 8, start + 3 * k + 12),
        imu_gyro=slice(start + 3 * k + 12, start + 3 * k + 15),
        joint_torque=slice(start + 3 * k + 15, start + 3 * k + 15 + spec.num_joints),
    )
    assert layout.joint_torque.stop == model.nsensordata, "sensor layout out of step with the model"
    return model, layout
