"""A URDF of the G1 generated from the same MJCF the simulation uses, for robot_state_publisher and rviz2.

Kinematics (body frames, joint axes and limits) and inertials come from the compiled MuJoCo model; visual
meshes come from the uncompiled model (MjSpec), because MuJoCo re-centres mesh geoms when it compiles, while
the URDF must place the original mesh files. Meshes are referenced by absolute ``file://`` URIs to the
model's own STL files. The floating base is not a URDF joint: the bridge publishes odom -> pelvis on /tf.

Velocity limits are not part of the MuJoCo model; the URDF carries ``velocity="0"`` (unknown), which
robot_state_publisher and rviz2 ignore.

Command line: ``g1-urdf [-o FILE]`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import mujoco
import numpy as np

from twist_core.model import load_model, model_xml
from twist_core.robot import RobotSpec, load_robot_spec


def _fmt(values) -> str:
    return " ".join(f"{float(v):.9g}" for v in values)


def quat_to_rpy(quat_wxyz) -> np.ndarray:
    """URDF roll-pitch-yaw (fixed-axis XYZ) of a (w, x, y, z) quaternion."""
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat_wxyz, dtype=np.float64) / np.linalg.norm(quat_wxyz))
    r = mat.reshape(3, 3)
    pitch = np.arcsin(-np.clip(r[2, 0], -1.0, 1.0))
    if abs(r[2, 0]) < 1.0 - 1e-9:
        roll = np.arctan2(r[2, 1], r[2, 2])
        yaw = np.arctan2(r[1, 0], r[0, 0])
    else:  # gimbal lock: put everything in yaw
        roll = 0.0
        yaw = np.arctan2(-r[0, 1], r[1, 1])
    return np.array([roll, pitch, yaw])


def _origin(parent: ET.Element, pos, quat_wxyz) -> None:
    ET.SubElement(parent, "origin", xyz=_fmt(pos), rpy=_fmt(quat_to_rpy(quat_wxyz)))


def _inertial(link: ET.Element, model: mujoco.MjModel, body: int) -> None:
    inertial = ET.SubElement(link, "inertial")
    _origin(inertial, model.body_ipos[body], model.body_iquat[body])
    ET.SubElement(inertial, "mass", value=f"{model.body_mass[body]:.9g}")
    ixx, iyy, izz = model.body_inertia[body]
    ET.SubElement(inertial, "inertia", ixx=f"{ixx:.9g}", iyy=f"{iyy:.9g}", izz=f"{izz:.9g}",
                  ixy="0", ixz="0", iyz="0")


def _visuals(link: ET.Element, body_spec, mesh_files: dict[str, Path], colors: dict[str, np.ndarray]) -> None:
    for geom in body_spec.geoms:
        if geom.type != mujoco.mjtGeom.mjGEOM_MESH or geom.contype or geom.conaffinity:
            continue  # visual geoms only (collision geoms have contacts enabled)
        visual = ET.SubElement(link, "visual")
        _origin(visual, geom.pos, geom.quat)
        geometry = ET.SubElement(visual, "geometry")
        ET.SubElement(geometry, "mesh", filename=mesh_files[geom.meshname].resolve().as_uri())
        material = ET.SubElement(visual, "material", name=geom.material or f"rgba_{_fmt(geom.rgba)}")
        ET.SubElement(material, "color", rgba=_fmt(colors.get(geom.material, geom.rgba)))


def build_urdf(spec: RobotSpec) -> str:
    """The URDF text of the robot (no floor, no floating joint)."""
    xml_path = model_xml(spec, spec.model.robot_entry)
    model = load_model(spec, spec.model.robot_entry)
    mjspec = mujoco.MjSpec.from_file(str(xml_path))
    mesh_dir = xml_path.parent / (mjspec.meshdir or "")
    mesh_files = {m.name: mesh_dir / m.file for m in mjspec.meshes}
    colors = {m.name: np.asarray(m.rgba) for m in mjspec.materials}
    body_specs = {b.name: b for b in mjspec.worldbody.find_all(mujoco.mjtObj.mjOBJ_BODY)}

    robot = ET.Element("robot", name=spec.name)
    root = model.body(spec.model.root_body).id
    for body in range(root, model.nbody):
        name = model.body(body).name
        link = ET.SubElement(robot, "link", name=name)
        _inertial(link, model, body)
        _visuals(link, body_specs[name], mesh_files, colors)
        if body == root:
            continue
        joints = [j for j in range(model.njnt) if model.jnt_bodyid[j] == body]
        if len(joints) > 1:
            raise ValueError(f"body {name} has {len(joints)} joints; a URDF link can have one")
        hinge = joints[0] if joints else None
        joint = ET.SubElement(robot, "joint", name=model.joint(hinge).name if hinge is not None else f"{name}_fixed",
                              type="revolute" if hinge is not None else "fixed")
        ET.SubElement(joint, "parent", link=model.body(model.body_parentid[body]).name)
        ET.SubElement(joint, "child", link=name)
        _origin(joint, model.body_pos[body], model.body_quat[body])
        if hinge is not None:
            if np.any(model.jnt_pos[hinge]):
                raise ValueError(f"joint {model.joint(hinge).name} is offset from its body frame")
            ET.SubElement(joint, "axis", xyz=_fmt(model.jnt_axis[hinge]))
            lower, upper = model.jnt_range[hinge]
            effort = float(np.max(np.abs(model.jnt_actfrcrange[hinge])))
            ET.SubElement(joint, "limit", lower=f"{lower:.9g}", upper=f"{upper:.9g}", effort=f"{effort:.9g}",
                          velocity="0")
    ET.indent(robot)
    return '<?xml version="1.0"?>\n<!-- Generated by twist_bringup.urdf from ' + str(xml_path) + ' -->\n' \
        + ET.tostring(robot, encoding="unicode") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the URDF to a file or stdout."""
    parser = argparse.ArgumentParser(prog="g1-urdf", description="Generate the G1 URDF from the MuJoCo model "
                                     "named in config/g1.yaml (for robot_state_publisher and rviz2).")
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    text = build_urdf(load_robot_spec())
    if args.output:
        args.output.write_text(text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
