"""Style checks every package's tests run on their own sources: flake8 and pydocstyle.

One configuration for the whole workspace, kept here so that each package's lint test is a single
call. Both tools come from PyPI (``make setup`` installs them); a ROS 2 user gets them from
``python3-flake8`` and ``python3-pydocstyle``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MAX_LINE_LENGTH = 120
# pydocstyle: pep257 conventions, minus the rules the ROS 2 linters also drop (D100-D107 would
# demand docstrings on private helpers and test modules; D203/D212 conflict with D211/D213).
PYDOCSTYLE_IGNORE = "D100,D104,D105,D107,D203,D212,D213,D401,D403,D413"


def _run(args: list[str]) -> tuple[int, str]:
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, check=False)
    return result.returncode, result.stdout + result.stderr


def flake8(paths: list[Path]) -> tuple[int, str]:
    """Run flake8 on ``paths``; return (exit code, report)."""
    return _run(["flake8", f"--max-line-length={MAX_LINE_LENGTH}", *map(str, paths)])


def pydocstyle(paths: list[Path]) -> tuple[int, str]:
    """Run pydocstyle on ``paths`` (public functions and classes need docstrings)."""
    return _run(["pydocstyle", f"--add-ignore={PYDOCSTYLE_IGNORE}", "--match=(?!test_|conftest).*\\.py",
                 *map(str, paths)])


def assert_package_is_clean(package_dir: Path) -> None:
    """Fail with both reports unless the package's Python sources and tests pass flake8 and pydocstyle."""
    package_dir = Path(package_dir)
    sources = [p for p in (package_dir / package_dir.name, package_dir / "test", package_dir / "setup.py",
                           package_dir / "scripts") if p.exists()]
    reports = []
    for check in (flake8, pydocstyle):
        code, report = check(sources)
        if code != 0:
            reports.append(f"{check.__name__} found problems:\n{report}")
    assert not reports, "\n".join(reports)
