"""Step the system clock of one process (and only that one) in a test, without touching the machine's clock.

:class:`ClockStep` compiles (once per directory, with the C compiler ``make setup`` needs anyway) a small
``LD_PRELOAD`` library that adds an offset to every ``CLOCK_REALTIME`` reading of the process it is loaded into
(``clock_gettime`` and ``gettimeofday``: Python's ``time.time()``, rclpy's system and ROS clocks, rcl timers on
them); ``CLOCK_MONOTONIC`` is left alone. The offset is read from a file (seconds, re-read at most every 5 ms), so
a test steps the clock of a running node by writing that file (:meth:`ClockStep.set`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static long long offset_ns;
static long long next_read_ns;

static void load_offset(void) {
    struct timespec now;
    real_clock_gettime(CLOCK_MONOTONIC, &now);
    long long now_ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
    if (now_ns < next_read_ns) return;
    next_read_ns = now_ns + 5000000LL;
    const char *path = getenv("TWIST_CLOCK_OFFSET_FILE");
    FILE *file = path ? fopen(path, "r") : NULL;
    double seconds;
    if (file && fscanf(file, "%lf", &seconds) == 1) offset_ns = (long long)(seconds * 1e9);
    if (file) fclose(file);
}

static void shift(struct timespec *tp) {
    long long ns = (long long)tp->tv_sec * 1000000000LL + tp->tv_nsec + offset_ns;
    tp->tv_sec = ns / 1000000000LL;
    tp->tv_nsec = ns % 1000000000LL;
}

int clock_gettime(clockid_t id, struct timespec *tp) {
    if (!real_clock_gettime) real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real_clock_gettime(id, tp);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        load_offset();
        shift(tp);
    }
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz) {
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == 0 && tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return rc;
}
"""


class ClockStep:
    """The environment that loads the shifted clock into a process, and the handle that steps it."""

    def __init__(self, directory: Path) -> None:
        """Build the library in ``directory`` (raises RuntimeError without a C compiler) with offset 0."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.library = directory / "libclockstep.so"
        self.offset_file = directory / "clock_offset"
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise RuntimeError("no C compiler (cc) to build the clock-step library")
        if not self.library.exists():
            source = directory / "clockstep.c"
            source.write_text(SOURCE)
            subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(self.library), str(source), "-ldl"],
                           check=True, capture_output=True)
        self.set(0.0)

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) with the library preloaded and the offset file named."""
        env = dict(os.environ if base is None else base)
        env["LD_PRELOAD"] = " ".join(filter(None, [str(self.library), env.get("LD_PRELOAD", "")]))
        env["TWIST_CLOCK_OFFSET_FILE"] = str(self.offset_file)
        return env

    def set(self, seconds: float) -> None:
        """Step the processes' system clock to ``seconds`` away from the real one (atomic file replace)."""
        tmp = self.offset_file.with_suffix(".tmp")
        tmp.write_text(f"{seconds:.9f}\n")
        tmp.replace(self.offset_file)
