#!/usr/bin/env bash
# make check-setup [PYTHONS="python3.12 python3.10"]: `make setup` as a new user runs it, from a fresh copy of the
# committed workspace (git archive HEAD) in a temporary directory, once per interpreter, without the training and
# real-robot extras (TRAINING=0 REAL=0: the simulation-only install); then the imports every node needs and the
# tests of twist_msgs (the message build, DDS round trips) and twist_core. Minutes of CPU per interpreter: run
# from .ci/run, not from make test. An interpreter not on PATH is looked up among pyenv's versions.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
read -r -a pythons <<< "${*:-python3.12 python3.10}"

find_python() {  # the interpreter named $1 (python3.12), from PATH or pyenv
    if command -v "$1" >/dev/null 2>&1 && "$1" -c "" 2>/dev/null; then
        command -v "$1"
        return
    fi
    local version="${1#python}"
    if command -v pyenv >/dev/null 2>&1; then
        for prefix in "$(pyenv root)"/versions/"$version".*; do
            [ -x "$prefix/bin/$1" ] && { echo "$prefix/bin/$1"; return; }
        done
    fi
    return 1
}

status=0
for name in "${pythons[@]}"; do
    python="$(find_python "$name")" || { echo "check-setup: $name not found (PATH or pyenv)" >&2; status=1; continue; }
    work="$(mktemp -d "${TMPDIR:-/tmp}/twist-setup-$name.XXXXXX")"
    echo "check-setup: $name ($python) in $work"
    git -C "$root" archive HEAD | tar -x -C "$work"
    start=$SECONDS
    if (cd "$work" && make setup PYTHON="$python" TRAINING=0 REAL=0 \
            && bash -c 'source scripts/env.sh && python -c "
import sys, mujoco, onnxruntime, rclpy
from twist_msgs.msg import MotionReference, RobotState
from twist_bringup.launch_graph import config_dir
print(f\"check-setup: Python {sys.version.split()[0]}, MuJoCo {mujoco.__version__}, ONNX Runtime {onnxruntime.__version__}, config {config_dir()}\")
" && bash scripts/test.sh --packages-select twist_msgs twist_core'); then
        echo "check-setup: $name: setup and tests passed in $((SECONDS - start)) s"
    else
        echo "check-setup: $name: FAILED after $((SECONDS - start)) s (the copy is kept in $work)" >&2
        status=1
        continue
    fi
    rm -rf "$work"
done
exit $status
