"""flake8 and pydocstyle on this package: its launch files, setup.py and tests."""

from pathlib import Path

from twist_core.testing.lint import assert_package_is_clean, flake8, pydocstyle

PACKAGE = Path(__file__).resolve().parents[1]


def test_lint():
    """The package's sources and tests are clean, and so are its launch files."""
    assert_package_is_clean(PACKAGE)
    launch_files = sorted((PACKAGE / "launch").glob("*.launch.py"))
    assert launch_files
    for check in (flake8, pydocstyle):
        code, report = check(launch_files)
        assert code == 0, report
