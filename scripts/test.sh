#!/usr/bin/env bash
# make test: run every package's tests with colcon and gate on the results (colcon test exits 0 even when
# tests fail; colcon test-result does not). DDS stays on loopback in a private domain. Ends with a line
# "N passed, N failed, N skipped". Extra arguments go to colcon test (e.g. --packages-select twist_core).
#
# The gate also fails when a package's test process itself failed (a crash such as a segmentation fault at exit,
# exit code -11, or any exit code pytest does not use for failed tests), even if its result file says every test
# passed: colcon reports such a package as "Failed <<<" and exits non-zero, and each one counts as a failure.
# TWIST_TEST_BUILD_BASE (default build) is colcon's build base, where the results are read.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck disable=SC1091
source scripts/env.sh

export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( (RANDOM % 80) + 20 ))}"
echo "test: ROS_DOMAIN_ID=$ROS_DOMAIN_ID, discovery on localhost only"

build="${TWIST_TEST_BUILD_BASE:-build}"
mkdir -p "$build"
rm -rf "$build"/*/test_results "$build"/*/pytest.xml
# Without the training extras (make setup TRAINING=0) twist_training's tests cannot run: say so and leave them out.
skip=()
if ! python -c "import torch" 2>/dev/null; then
    echo "test: torch is not installed (make setup TRAINING=0): twist_training's tests are skipped"
    skip=(--packages-skip twist_training)
fi
# Sequential: the DDS and timing tests want the machine to themselves.
set +e
colcon test --executor sequential --event-handlers console_cohesion+ summary+ "${skip[@]}" "$@" 2>&1 \
    | tee "$build/colcon-test.txt"
test_status=${PIPESTATUS[0]}
colcon test-result --test-result-base "$build" --verbose > "$build/test-result.txt" 2>&1
status=$?
set -e
cat "$build/test-result.txt"
summary_status=0
python scripts/test_summary.py "$build/test-result.txt" "$build/colcon-test.txt" || summary_status=$?
[ "$status" -eq 0 ] && [ "$summary_status" -eq 0 ] && [ "$test_status" -eq 0 ]
