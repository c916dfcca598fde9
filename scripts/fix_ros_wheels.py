#!/usr/bin/env python3
"""Repair the CMake export files that the ROS 2 PyPI wheels ship with the wheel builder's paths.

Several ``share/*/cmake/export_*__rosidl_generator_pyExport.cmake`` files in the ``ros-*-msgs``
wheels name the builder's Python and NumPy include directories (``/opt/python/cp311-cp311/...``, likewise for
cp310 and cp312).
CMake rejects an imported target whose include directory does not exist, so building any interface
package against those wheels fails. This rewrites the paths to this environment's own Python and
NumPy include directories. It is idempotent: run it after every install of more ``ros-*`` wheels.

Usage: python scripts/fix_ros_wheels.py [--prefix PREFIX] [--check]
"""

from __future__ import annotations

import argparse
import re
import sys
import sysconfig
from pathlib import Path

BUILDER_PREFIX = r"/opt/python/cp3\d+-cp3\d+"  # the wheel builder's interpreter, per CPython version
_PYTHON_INCLUDE = re.compile(BUILDER_PREFIX + r"/include/python3\.\d+")
_NUMPY_INCLUDE = re.compile(BUILDER_PREFIX + r"/lib/python3\.\d+/site-packages/numpy/(?:_core|core)/include")


def replacement_paths() -> tuple[str, str]:
    """Return this interpreter's Python include dir and NumPy include dir."""
    import numpy

    return sysconfig.get_paths()["include"], numpy.get_include()


def fix_file(path: Path, python_include: str, numpy_include: str) -> bool:
    """Rewrite one export file in place; return True when it changed."""
    text = path.read_text()
    fixed = _NUMPY_INCLUDE.sub(numpy_include, text)
    fixed = _PYTHON_INCLUDE.sub(python_include, fixed)
    if fixed == text:
        return False
    path.write_text(fixed)
    return True


def broken_files(prefix: Path) -> list[Path]:
    """Export files under ``prefix/share`` that still name the wheel builder's paths."""
    pattern = "*/cmake/export_*__rosidl_generator_pyExport.cmake"
    builder = re.compile(BUILDER_PREFIX)
    return [p for p in sorted((prefix / "share").glob(pattern)) if builder.search(p.read_text())]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", type=Path, default=Path(sys.prefix),
                        help="environment prefix holding share/ (default: this interpreter's prefix)")
    parser.add_argument("--check", action="store_true",
                        help="only report files that still need fixing; exit 1 if any")
    args = parser.parse_args(argv)
    todo = broken_files(args.prefix)
    if args.check:
        for path in todo:
            print(f"needs fixing: {path}")
        return 1 if todo else 0
    python_include, numpy_include = replacement_paths()
    changed = [p for p in todo if fix_file(p, python_include, numpy_include)]
    left = broken_files(args.prefix)
    print(f"fix_ros_wheels: {len(changed)} file(s) rewritten, {len(left)} still naming the builder's /opt/python")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
