"""Bad robot configs fail at load with a message that names the problem."""

import pytest
import yaml

from twist_core.robot import RobotSpecError, load_robot_spec, parse_robot_spec


def _write(tmp_path, data):
    path = tmp_path / "g1.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture()
def data(config_text):
    """The real config as a mutable document."""
    return yaml.safe_load(config_text)


def test_missing_joint_is_caught_against_the_model(tmp_path, data):
    """Dropping a joint (and its mirror, so the file is self-consistent) disagrees with the model."""
    data["joints"] = [j for j in data["joints"] if "elbow" not in j["name"]]
    data["joint_groups"] = {group: [n for n in names if "elbow" not in n]
                            for group, names in data["joint_groups"].items()}
    expected = r"in the model but not in the config: \['left_elbow_joint', 'right_elbow_joint'\]"
    with pytest.raises(RobotSpecError, match=expected):
        load_robot_spec(_write(tmp_path, data))


def test_missing_mirror_counterpart(data):
    """A left joint without its right twin is refused before any model check."""
    data["joints"] = [j for j in data["joints"] if j["name"] != "right_knee_joint"]
    with pytest.raises(RobotSpecError, match="mirror counterpart.*right_knee_joint"):
        parse_robot_spec(data)


def test_wrong_limit_is_caught_against_the_model(tmp_path, data):
    """A position limit that differs from the model's is reported with both values."""
    for joint in data["joints"]:
        if joint["name"] in ("left_knee_joint", "right_knee_joint"):
            joint["range"] = [-0.087267, 2.5]
    with pytest.raises(RobotSpecError, match=r"left_knee_joint: config range \[-0.087267, 2.5\] != model range"):
        load_robot_spec(_write(tmp_path, data))


def test_wrong_effort_is_caught_against_the_model(tmp_path, data):
    """An effort limit that differs from the model's is reported."""
    data["joints"][3]["effort"] = 200
    data["joints"][9]["effort"] = 200
    with pytest.raises(RobotSpecError, match="left_knee_joint: config effort 200.0 != model effort limit 139"):
        load_robot_spec(_write(tmp_path, data))


def test_duplicated_joint_name(data):
    """Two joints with one name are refused."""
    data["joints"][1]["name"] = data["joints"][0]["name"]
    with pytest.raises(RobotSpecError, match="duplicated name 'left_hip_pitch_joint'"):
        parse_robot_spec(data)


@pytest.mark.parametrize("where", ["top", "joint", "model", "key_body"])
def test_unknown_key(data, where):
    """A misspelt key anywhere is refused, not ignored."""
    target = {"top": data, "joint": data["joints"][4], "model": data["model"],
              "key_body": data["key_bodies"][0]}[where]
    target["kpp"] = 1.0
    with pytest.raises(RobotSpecError, match=r"unknown key\(s\) \['kpp'\]"):
        parse_robot_spec(data)


def test_missing_key(data):
    """A joint without kd is refused."""
    del data["joints"][2]["kd"]
    with pytest.raises(RobotSpecError, match=r"joints\[2\]: missing key\(s\) \['kd'\]"):
        parse_robot_spec(data)


@pytest.mark.parametrize("field,value,message", [
    ("kp", "stiff", "expected a number"),
    ("kp", -1.0, "must be >= 0"),
    ("effort", 0.0, "must be > 0"),
    ("velocity", -3.0, "must be > 0"),
    ("kp", 500.0, "kp: 500.0 above kp_max 400.0"),
    ("kd_max", 1.0, "kd: 2.0 above kd_max 1.0"),
    ("default", float("nan"), "must be finite"),
    ("default", 3.5, "outside the joint range"),
    ("range", [1.0, -1.0], "must be below upper"),
    ("range", [0.0], "expected a list of 2 numbers"),
])
def test_bad_joint_values(data, field, value, message):
    """Each malformed joint value gets its own clear error naming the joint."""
    data["joints"][0][field] = value
    with pytest.raises(RobotSpecError, match=message) as info:
        parse_robot_spec(data)
    assert "left_hip_pitch_joint" in str(info.value)


def test_asymmetric_default_pose(data):
    """A default pose that is not its own mirror image is refused."""
    data["joints"][0]["default"] = -0.3
    with pytest.raises(RobotSpecError, match="not left/right symmetric"):
        parse_robot_spec(data)


def test_excluded_joint_unknown(data):
    """The policy cannot exclude a joint that does not exist."""
    data["policy"]["excluded_joints"] = ["left_wrist_roll_joint", "right_wrist_roll_joint", "left_tail_joint"]
    with pytest.raises(RobotSpecError, match="unknown joint.*left_tail_joint"):
        parse_robot_spec(data)


def test_unknown_body_and_site_are_caught_against_the_model(tmp_path, data):
    """Key bodies and the IMU site must exist in the model."""
    data["key_bodies"][8]["body"] = "head_link"
    data["model"]["imu_site"] = "imu_in_head"
    with pytest.raises(RobotSpecError, match=r"(?s)body 'head_link'.*IMU site 'imu_in_head'"):
        load_robot_spec(_write(tmp_path, data))


def test_schema_version(data):
    """A config of another schema version is refused."""
    data["schema_version"] = 2
    with pytest.raises(RobotSpecError, match="schema_version"):
        parse_robot_spec(data)


def test_unreadable_and_invalid_files(tmp_path):
    """A missing file and a file that is not YAML both give RobotSpecError."""
    with pytest.raises(RobotSpecError, match="cannot read"):
        load_robot_spec(tmp_path / "missing.yaml")
    with pytest.raises(RobotSpecError, match="not valid YAML"):
        load_robot_spec(_write(tmp_path, "joints: [unclosed"))
    with pytest.raises(RobotSpecError, match="expected a mapping"):
        load_robot_spec(_write(tmp_path, "- just a list"))


def test_env_override(tmp_path, data, monkeypatch):
    """TWIST_G1_CONFIG selects another config file."""
    data["name"] = "my_g1"
    monkeypatch.setenv("TWIST_G1_CONFIG", str(_write(tmp_path, data)))
    assert load_robot_spec().name == "my_g1"


def test_joint_group_with_an_unknown_joint(data):
    """A joint group naming a joint the config does not have is refused with the group's name."""
    data["joint_groups"]["upper_body"].append("tail_joint")
    with pytest.raises(RobotSpecError, match=r"joint_groups.upper_body names unknown joint\(s\) \['tail_joint'\]"):
        parse_robot_spec(data)


def test_joint_groups_are_optional_and_named(data):
    """Without joint_groups the spec has none; the upper body is the waist and both arms, in motor order."""
    upper = parse_robot_spec(data).group_indices("upper_body")
    assert upper.tolist() == list(range(12, 29))
    del data["joint_groups"]
    with pytest.raises(KeyError, match="unknown joint group 'upper_body'"):
        parse_robot_spec(data).group_indices("upper_body")
