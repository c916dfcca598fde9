# Source this file (bash) to use the workspace built by `make setup`:
#     source scripts/env.sh
# It activates .venv (ROS 2 Kilted wheels, MuJoCo, ONNX Runtime, torch), makes the ROS 2 wheels visible to
# CMake/colcon (AMENT_PREFIX_PATH), and sources the colcon install space when it exists.
# Not needed with a system ROS 2: source /opt/ros/<distro>/setup.bash and install/setup.bash instead.

_twist_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x "$_twist_root/.venv/bin/python" ]; then
    echo "scripts/env.sh: $_twist_root/.venv does not exist; run 'make setup' first" >&2
    return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
source "$_twist_root/.venv/bin/activate"
case ":${AMENT_PREFIX_PATH:-}:" in
    *":$VIRTUAL_ENV:"*) ;;
    *) export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
esac
if [ -f "$_twist_root/install/setup.bash" ]; then
    # colcon's scripts read unset variables: relax `set -u` while sourcing them, if a caller set it.
    case $- in *u*) _twist_nounset=1; set +u ;; *) _twist_nounset= ;; esac
    # shellcheck disable=SC1091
    source "$_twist_root/install/setup.bash"
    [ -n "$_twist_nounset" ] && set -u
    unset _twist_nounset
    # Console scripts live in install/<pkg>/lib/<pkg> (where `ros2 run` finds them): put them on PATH
    # too, so `walk-dataset`, `cmg-train`, `motion-tool` ... work as plain commands.
    for _twist_bin in "$_twist_root"/install/*/lib/*/; do
        case ":$PATH:" in
            *":${_twist_bin%/}:"*) ;;
            *) [ -d "$_twist_bin" ] && case "$(basename "$_twist_bin")" in python*) false ;; esac && PATH="${_twist_bin%/}:$PATH" ;;
        esac
    done
    export PATH
    unset _twist_bin
fi
unset _twist_root
