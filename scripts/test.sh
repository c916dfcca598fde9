#!/usr/bin/env bash
# make test: run every package's tests with colcon and gate on the results (colcon test exits 0 even when
# tests fail; colcon test-result does not). DDS stays on loopback in a private domain. Ends with a line
# "N passed, N failed, N skipped". Extra arguments go to colcon test (e.g. --packages-select twist_core).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck disable=SC1091
source scripts/env.sh

export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( (RANDOM % 80) + 20 ))}"
echo "test: ROS_DOMAIN_ID=$ROS_DOMAIN_ID, discovery on localhost only"

rm -rf build/*/test_results build/*/pytest.xml
# Sequential: the DDS and timing tests want the machine to themselves.
colcon test --executor sequential --event-handlers console_cohesion+ summary+ "$@" || true
set +e
colcon test-result --verbose > build/test-result.txt 2>&1
status=$?
set -e
cat build/test-result.txt
python scripts/test_summary.py build/test-result.txt
summary_status=$?
[ "$status" -eq 0 ] && [ "$summary_status" -eq 0 ]
