#!/usr/bin/env python3
"""Turn `colcon test-result` output into one plain closing line: "N passed, N failed, N skipped".

Usage: python scripts/test_summary.py TEST_RESULT_OUTPUT_FILE [COLCON_TEST_OUTPUT_FILE]
With the output of `colcon test` too, every package whose test process failed on its own (colcon's
"Failed <<< PKG [..., exited with code N]": a crash such as a segmentation fault, -11, even after all its tests
passed) is named and counted as one failure.
Exit status 1 when any test failed or errored, a test process failed, or no test ran at all.
"""

import re
import sys
from pathlib import Path

SUMMARY = re.compile(r"Summary: (\d+) tests?, (\d+) errors?, (\d+) failures?, (\d+) skipped")
PROCESS_FAILED = re.compile(r"^Failed\s+<<<\s+(\S+)\s+\[.*exited with code (-?\d+)\]", re.MULTILINE)
COLOR = re.compile(r"\x1b\[[0-9;]*m")


def failed_processes(colcon_test_output: str) -> dict[str, int]:
    """Packages whose test process failed, with its exit code, from the output of `colcon test`."""
    return {package: int(code) for package, code in PROCESS_FAILED.findall(COLOR.sub("", colcon_test_output))}


def main(argv: list[str]) -> int:
    """Print the closing line and return the exit status."""
    if len(argv) not in (1, 2) or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    match = SUMMARY.search(Path(argv[0]).read_text())
    crashed = failed_processes(Path(argv[1]).read_text()) if len(argv) == 2 else {}
    for package, code in crashed.items():
        what = f"signal {-code}" if code < 0 else f"exit code {code}"
        print(f"test process of {package} failed ({what}), whatever its results say: counted as a failure")
    if not match:
        print(f"0 passed, {len(crashed)} failed (no colcon test-result summary found)")
        return 1
    tests, errors, failures, skipped = map(int, match.groups())
    failed = errors + failures
    print(f"{tests - failed - skipped} passed, {failed + len(crashed)} failed, {skipped} skipped")
    return 1 if failed or crashed or tests == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
