#!/usr/bin/env bash
# make setup: create .venv with the pinned dependencies, repair the ROS 2 wheels' CMake files, and build the
# workspace with colcon. Idempotent: a second run reinstalls nothing unless requirements.txt or
# constraints.txt changed, and colcon rebuilds only what changed.
#
# Environment: PYTHON (default python3.11; the ROS 2 wheels are built for CPython 3.11),
# MENAGERIE_ROOT (optional local copy of MuJoCo Menagerie; otherwise models download on first use),
# CYCLONEDDS_HOME (optional Cyclone DDS 0.10.x install, e.g. /opt/ros/humble; otherwise Debian's cyclonedds-dev,
# installed with apt-get when missing and run as root).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

python="${PYTHON:-python3.11}"
if ! command -v "$python" >/dev/null 2>&1; then
    echo "setup: $python not found. The ROS 2 Kilted wheels need CPython 3.11 (set PYTHON=/path/to/python3.11)," >&2
    echo "       or use docker/ (ROS 2 Jazzy image), or your own ROS 2 install (README)." >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $("$python" --version)"
    "$python" -m venv .venv
fi

# Cyclone DDS for the real-robot bridge (g1_bridge's unitree_bridge, unitree_sim): the G1 runs Cyclone DDS 0.10.x,
# so the Python binding is cyclonedds 0.10.2 built from source (it has no CPython 3.11 wheel) against the C library
# 0.10.2 of Debian's cyclonedds-dev, found through CYCLONEDDS_HOME: a prefix of links to Debian's include/, lib/
# and bin/. See src/g1_bridge/README.md for why not the 11.x wheel.
if [ -z "${CYCLONEDDS_HOME:-}" ]; then
    multiarch="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
    if [ ! -f /usr/include/dds/dds.h ] || [ ! -e "/usr/lib/$multiarch/libddsc.so" ]; then
        if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
            echo "setup: installing Debian's cyclonedds-dev (Cyclone DDS 0.10.x, as on the G1)"
            apt-get install -y -q --no-install-recommends cyclonedds-dev >/dev/null 2>&1 \
                || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends cyclonedds-dev >/dev/null; }
        else
            echo "setup: Cyclone DDS 0.10.x is missing: 'sudo apt-get install cyclonedds-dev', or set CYCLONEDDS_HOME" >&2
            echo "       to a Cyclone DDS 0.10.x install (e.g. /opt/ros/humble), then run make setup again." >&2
            exit 1
        fi
    fi
    CYCLONEDDS_HOME="$root/.venv/cyclonedds-home"
    mkdir -p "$CYCLONEDDS_HOME"
    ln -sfn /usr/include "$CYCLONEDDS_HOME/include"
    ln -sfn "/usr/lib/$multiarch" "$CYCLONEDDS_HOME/lib"
    ln -sfn /usr/bin "$CYCLONEDDS_HOME/bin"
fi
export CYCLONEDDS_HOME

stamp=.venv/.twist-requirements.sha256
wanted="$(cat requirements.txt requirements-nodeps.txt constraints.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "setup: installing pinned dependencies into .venv (first run: a few minutes)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
    echo "$wanted" > "$stamp"
else
    echo "setup: .venv is up to date"
fi

.venv/bin/python scripts/fix_ros_wheels.py --prefix .venv

# shellcheck disable=SC1091
source scripts/env.sh
colcon build --symlink-install --event-handlers console_cohesion- summary+ \
    --cmake-args -DBUILD_TESTING=ON -Wno-dev
# shellcheck disable=SC1091
source scripts/env.sh  # again, now that install/setup.bash exists
# Fetch the G1 model (cached by mujoco-menagerie, or read from MENAGERIE_ROOT) and check config/g1.yaml against it.
python -c "
from twist_core.model import model_xml
from twist_core.robot import load_robot_spec
spec = load_robot_spec()
print(f'setup: {spec.name}: {spec.num_joints} joints ({spec.num_policy_joints} policy joints) agree with {model_xml(spec)}')
"
echo "setup: done. Use the workspace with: source scripts/env.sh"
