"""`make test`'s gate (scripts/test.sh) on two throwaway packages: one whose tests pass, one whose pytest process
crashes (SIGSEGV at exit) after writing a result file in which every test passed: the gate must fail on it."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TEST = {
    "healthy": "def test_passes():\n    assert True\n",
    "crashing": ("import atexit\nimport os\nimport signal\n\n\ndef test_passes():\n"
                 "    atexit.register(lambda: os.kill(os.getpid(), signal.SIGSEGV))  # after the XML is written\n"),
}


def _package(src: Path, name: str, test: str) -> None:
    root = src / name
    (root / "resource").mkdir(parents=True)
    (root / "resource" / name).write_text("")
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    (root / "test").mkdir()
    (root / "test" / "test_it.py").write_text(test)
    (root / "package.xml").write_text(f"""<?xml version="1.0"?>
<package format="3"><name>{name}</name><version>0.0.0</version><description>gate test</description>
<maintainer email="a@b.c">a</maintainer><license>Apache-2.0</license><test_depend>python3-pytest</test_depend>
<export><build_type>ament_python</build_type></export></package>
""")
    (root / "setup.cfg").write_text(f"[develop]\nscript_dir=$base/lib/{name}\n"
                                    f"[install]\ninstall_scripts=$base/lib/{name}\n")
    (root / "setup.py").write_text(f"""from setuptools import setup
setup(name="{name}", version="0.0.0", packages=["{name}"], extras_require={{"test": ["pytest"]}},
      data_files=[("share/ament_index/resource_index/packages", ["resource/{name}"]),
                  ("share/{name}", ["package.xml"])])
""")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Both packages, built with colcon into a temporary build and install base."""
    base = tmp_path_factory.mktemp("gate")
    for name, test in TEST.items():
        _package(base / "src", name, test)
    env = {**os.environ, "COLCON_LOG_PATH": str(base / "log")}
    args = ["--base-paths", str(base / "src"), "--build-base", str(base / "build"), "--install-base",
            str(base / "install")]
    subprocess.run(["colcon", "build", *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    return base, env, args


@pytest.mark.parametrize("package,code,closing", [("healthy", 0, "1 passed, 0 failed, 0 skipped"),
                                                  ("crashing", 1, "1 passed, 1 failed, 0 skipped")])
def test_the_gate_fails_when_a_test_process_crashes(workspace, package, code, closing):
    """A crashing test process fails make test, named with its signal, though its result file says all passed."""
    base, env, args = workspace
    result = subprocess.run(["bash", "scripts/test.sh", *args, "--packages-select", package], cwd=ROOT,
                            env={**env, "TWIST_TEST_BUILD_BASE": str(base / "build")}, capture_output=True,
                            text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert output.rstrip().splitlines()[-1] == closing, output
    crash_line = "test process of crashing failed (signal 11), whatever its results say: counted as a failure"
    assert (crash_line in output) == (package == "crashing"), output
