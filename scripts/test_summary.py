#!/usr/bin/env python3
"""Turn `colcon test-result` output into one plain closing line: "N passed, N failed, N skipped".

Usage: python scripts/test_summary.py TEST_RESULT_OUTPUT_FILE
Exit status 1 when any test failed or errored, or when no test ran at all.
"""

import re
import sys
from pathlib import Path

SUMMARY = re.compile(r"Summary: (\d+) tests?, (\d+) errors?, (\d+) failures?, (\d+) skipped")


def main(argv: list[str]) -> int:
    """Print the closing line and return the exit status."""
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    match = SUMMARY.search(Path(argv[0]).read_text())
    if not match:
        print("0 passed, 0 failed (no colcon test-result summary found)")
        return 1
    tests, errors, failures, skipped = map(int, match.groups())
    failed = errors + failures
    print(f"{tests - failed - skipped} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or tests == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
