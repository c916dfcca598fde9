# The workspace's entry points. See README.md.
.PHONY: help setup build test demo sim check-setup clean

help:
	@echo "make setup   create .venv (pinned ROS 2 Kilted wheels, MuJoCo, ONNX Runtime, torch) and colcon build;"
	@echo "             PYTHON=python3.12 (3.10, 3.11 or 3.12), TRAINING=0 (no torch), REAL=1|0|auto (Cyclone DDS extras)"
	@echo "make build   colcon build (after setup)"
	@echo "make test    colcon test, gated on colcon test-result; ends with 'N passed, N failed'"
	@echo "make demo    the closed loop in simulation: scripted cmd_vel, live table, plots (POLICY=, CMG=, TOY=1, ARGS=)"
	@echo "             MOTION=clip.csv [MOTION_FPS=60]: play a motion clip instead of the walk"
	@echo "make sim     the simulated G1 in real time for interactive use (twist-ctl, teleop-keyboard): the MuJoCo"
	@echo "             viewer when DISPLAY is set, else a recording to RECORD (runs/sim.mp4; RECORD= for none);"
	@echo "             POLICY=, CMG=, ARGS="
	@echo "make check-setup  make setup + the message and core tests from a fresh copy, per PYTHONS (python3.12 python3.10)"
	@echo "make clean   remove build/, install/ and log/ (keeps .venv)"

setup:
	bash scripts/setup.sh

build:
	bash -c 'source scripts/env.sh && colcon build --symlink-install --event-handlers console_cohesion- summary+ --cmake-args -DBUILD_TESTING=ON -Wno-dev'

test: build
	bash scripts/test.sh

POLICY ?= models/student/policy.onnx
CMG ?= models/cmg/cmg.onnx
demo:
	@bash -c 'source scripts/env.sh && python scripts/demo.py --policy "$(POLICY)" --cmg "$(CMG)" $(if $(TOY),--toy) \
		$(if $(MOTION),--motion "$(MOTION)") $(if $(MOTION_FPS),--motion-fps $(MOTION_FPS)) $(ARGS)'

RECORD ?= runs/sim.mp4
sim:
	@mkdir -p "$(dir $(or $(RECORD),runs/))" && bash -c 'source scripts/env.sh && echo "sim: steer it from another shell: source scripts/env.sh; twist-ctl start; twist-ctl go; teleop-keyboard" \
		&& python -m twist_bringup.graph_runner --reference cmg --cmg-model "$(CMG)" --policy-file "$(POLICY)" \
		$(if $(DISPLAY),--viewer,--no-rviz $(if $(RECORD),--record "$(RECORD)")) $(ARGS)'

PYTHONS ?= python3.12 python3.10
check-setup:
	bash scripts/check_setup.sh $(PYTHONS)

clean:
	rm -rf build install log
