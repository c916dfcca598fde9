"""flake8 and pydocstyle on this package."""

from pathlib import Path

from twist_core.testing.lint import assert_package_is_clean


def test_lint():
    """The package's sources and tests are clean."""
    assert_package_is_clean(Path(__file__).resolve().parents[1])
