#!/usr/bin/env bash
# make setup: check the prerequisites, create .venv with the pinned dependencies, repair the ROS 2 wheels' CMake
# files, and build the workspace with colcon. Idempotent: a second run reinstalls nothing unless a requirements
# or constraints file or an option changed, and colcon rebuilds only what changed. The Dockerfile runs it too.
#
# Options (environment variables, or make variables: make setup PYTHON=python3.12 TRAINING=0):
#   PYTHON    CPython 3.10 (3.10.12 or newer), 3.11 or 3.12; default: the first of python3.11, python3.12,
#             python3.10 on PATH. An existing .venv keeps its version. 3.10 (Ubuntu 22.04's) gets an older pin set
#             (constraints-py310.txt: MuJoCo 3.17, numpy 2.2; MuJoCo 4 and numpy 2.4 need 3.11 or newer).
#   TRAINING  1 (default): also the training stack (requirements-training.txt: torch, tensorboard, rsl-rl-lib,
#             mujoco-warp); 0: simulation, the nodes and the tests only (twist_training's tests are then skipped).
#   REAL      auto (default): the real-robot extras (requirements-real.txt: the Cyclone DDS 0.10 Python binding,
#             built from source; unitree_sdk2py) when the Cyclone DDS 0.10 C library is found, else left out with
#             a message; 1: required (Debian's cyclonedds-dev is installed with apt-get when run as root); 0: left
#             out. Without them the real-robot tests are skipped; the simulation needs none of it.
#   CYCLONEDDS_HOME   a Cyclone DDS 0.10.x install (e.g. /opt/ros/humble) instead of Debian's cyclonedds-dev.
#   MENAGERIE_ROOT    a local copy of MuJoCo Menagerie (otherwise the G1 model downloads on first use).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

fail() {
    echo "setup: $*" >&2
    exit 1
}

# -- the interpreter ----------------------------------------------------------------------------------------
python_version() {  # "3.11" for a CPython 3.11, else what it is
    "$1" -c 'import platform, sys; print("%d.%d" % sys.version_info[:2] if platform.python_implementation() == "CPython" else platform.python_implementation())' 2>/dev/null
}
if [ -x .venv/bin/python ]; then
    python=.venv/bin/python
    version="$(python_version "$python")"
    if [ -n "${PYTHON:-}" ] && [ "$(python_version "$PYTHON" || true)" != "$version" ]; then
        fail ".venv holds Python $version, not $PYTHON: remove it first (rm -rf .venv build install log)"
    fi
elif [ -n "${PYTHON:-}" ]; then
    command -v "$PYTHON" >/dev/null 2>&1 || fail "$PYTHON not found (PYTHON names the interpreter: python3.10, python3.11 or python3.12, or a path)"
    python="$PYTHON"
else
    python=""
    for candidate in python3.11 python3.12 python3.10; do
        if command -v "$candidate" >/dev/null 2>&1 && [ -n "$(python_version "$candidate")" ]; then
            python="$candidate"
            break
        fi
    done
    [ -n "$python" ] || fail "no CPython 3.10, 3.11 or 3.12 found on PATH: install one (Debian 12 has python3.11,
       Ubuntu 24.04 python3.12, Ubuntu 22.04 python3.10) or set PYTHON=/path/to/python3.X"
fi
version="$(python_version "$python")"
constraints=constraints.txt
case "$version" in
    3.11|3.12) ;;
    3.10)
        # mujoco-menagerie (the G1 model) requires 3.10.12 or newer; older pins for what has no 3.10 build
        "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10, 12))' \
            || fail "$python is CPython $("$python" -c 'import platform; print(platform.python_version())'): 3.10 needs 3.10.12 or newer (mujoco-menagerie); or use 3.11 / 3.12"
        constraints=constraints-py310.txt ;;
    *) fail "$python is ${version:-not a working interpreter}; the workspace needs CPython 3.10, 3.11 or 3.12 (PYTHON=python3.X)" ;;
esac

# -- what the build needs from the system ------------------------------------------------------------------
missing=()
command -v cmake >/dev/null 2>&1 || missing+=("CMake (colcon builds twist_msgs with it): apt-get install cmake")
command -v c++ >/dev/null 2>&1 || missing+=("a C++ compiler (for twist_msgs' type support): apt-get install g++")
command -v git >/dev/null 2>&1 || missing+=("git: apt-get install git")
"$python" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    || missing+=("the Python $version headers (Python.h, for twist_msgs' Python bindings): apt-get install python$version-dev")
if [ ! -x .venv/bin/python ]; then
    "$python" -c 'import ensurepip, venv' 2>/dev/null \
        || missing+=("Python $version's venv module: apt-get install python$version-venv")
fi
if [ "${#missing[@]}" -gt 0 ]; then
    printf 'setup: missing:\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    fail "install what is missing (with sudo where needed), then run make setup again"
fi

# -- the real-robot extras: Cyclone DDS 0.10 ---------------------------------------------------------------
# The G1 runs Cyclone DDS 0.10.x, so the Python binding is cyclonedds 0.10.2 built from source (no wheel for
# these Pythons) against the C library 0.10 found through CYCLONEDDS_HOME: a ROS 2 Humble install, or a prefix of
# links to Debian's cyclonedds-dev. See src/g1_bridge/README.md for why not the 11.x wheel.
real="${REAL:-auto}"
case "$real" in auto|0|1) ;; *) fail "REAL is auto, 0 or 1, not $real" ;; esac
multiarch="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
cyclone_found() {
    if [ -n "${CYCLONEDDS_HOME:-}" ]; then
        [ -f "$CYCLONEDDS_HOME/include/dds/dds.h" ]
    else
        [ -f /usr/include/dds/dds.h ] && [ -e "/usr/lib/$multiarch/libddsc.so" ]
    fi
}
if [ "$real" = 1 ] && ! cyclone_found; then
    if [ -z "${CYCLONEDDS_HOME:-}" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "setup: installing Debian's cyclonedds-dev (Cyclone DDS 0.10.x, as on the G1)"
        apt-get install -y -q --no-install-recommends cyclonedds-dev >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends cyclonedds-dev >/dev/null; }
    fi
    cyclone_found || fail "REAL=1 needs Cyclone DDS 0.10.x: 'sudo apt-get install cyclonedds-dev' (Debian 12, Ubuntu
       22.04/24.04), or CYCLONEDDS_HOME=<a Cyclone DDS 0.10.x install, e.g. /opt/ros/humble>; then make setup REAL=1"
fi
if [ "$real" = auto ]; then
    if cyclone_found; then
        real=1
    else
        real=0
        echo "setup: Cyclone DDS 0.10 not found: the real-robot extras (unitree_bridge, unitree_sim) are left out;"
        echo "       'make setup REAL=1' adds them (it needs cyclonedds-dev, or CYCLONEDDS_HOME)"
    fi
fi
if [ "$real" = 1 ] && [ -z "${CYCLONEDDS_HOME:-}" ]; then
    CYCLONEDDS_HOME="$root/.venv/cyclonedds-home"
    mkdir -p "$CYCLONEDDS_HOME"
    ln -sfn /usr/include "$CYCLONEDDS_HOME/include"
    ln -sfn "/usr/lib/$multiarch" "$CYCLONEDDS_HOME/lib"
    ln -sfn /usr/bin "$CYCLONEDDS_HOME/bin"
fi
[ "$real" = 1 ] && export CYCLONEDDS_HOME

training="${TRAINING:-1}"
case "$training" in 0|1) ;; *) fail "TRAINING is 0 or 1, not $training" ;; esac

# -- .venv ----------------------------------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $("$python" --version)"
    "$python" -m venv .venv
fi
requirements=(-r requirements.txt)
[ "$training" = 1 ] && requirements+=(-r requirements-training.txt)
[ "$real" = 1 ] && requirements+=(-r requirements-real.txt)
stamp=.venv/.twist-requirements.sha256
wanted="$( (echo "python $version training $training real $real"; cat requirements*.txt "$constraints") | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "setup: installing pinned dependencies into .venv (Python $version, training $training, real robot $real;" \
         "first run: a few minutes)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "${requirements[@]}" -c "$constraints"
    if [ "$real" = 1 ]; then
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
    fi
    echo "$wanted" > "$stamp"
else
    echo "setup: .venv is up to date (Python $version, training $training, real robot $real)"
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
echo "setup: done (Python $version, training $training, real robot $real). Use the workspace with: source scripts/env.sh"
