"""The READMEs' commands exist as written: every workspace command in their ```bash blocks answers --help.

The blocks are read from the workspace's README.md files (the top level, launch/, models/ and each package's).
A command is one of ours when it starts with a console script of the workspace's packages, ``python -m`` a module
of them, ``python scripts/<file>.py`` or ``ros2 run <our package> <executable>``; each such command (once per
program) is run with ``--help`` as the README's reader would run it: exit code 0 and a usage text. ``make``
targets are checked against the Makefile. Commands of other tools (``ros2 launch``, ``docker``, ``colcon``) are not
run here.
"""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from twist_node_common.workspace import executable_path

ROOT = Path(__file__).resolve().parents[3]  # the source tree the READMEs describe
READMES = sorted([ROOT / "README.md", ROOT / "launch" / "README.md", ROOT / "models" / "README.md",
                  *ROOT.glob("src/*/README.md")])
PACKAGES = sorted(p.parent.name for p in ROOT.glob("src/*/package.xml"))


def _console_scripts() -> dict[str, Path]:
    """Every console script of the workspace's packages (install/<pkg>/lib/<pkg>/<name>) by name."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    scripts = {}
    for package in PACKAGES:
        try:
            lib = Path(get_package_prefix(package)) / "lib" / package
        except PackageNotFoundError:
            continue
        scripts.update({p.name: p for p in lib.glob("*") if p.is_file()})
    return scripts


def _commands() -> list[tuple[str, str]]:
    """(README, command line) for every line of every ```bash block, comments and continuations joined."""
    found = []
    for readme in READMES:
        for block in re.findall(r"```bash\n(.*?)```", readme.read_text(), flags=re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" #")[0].strip()
                if line and not line.startswith("#"):
                    found.append((str(readme.relative_to(ROOT)), line))
    return found


def _program(words: list[str], scripts: dict[str, Path]) -> list[str] | None:
    """The argv that runs the command's program, or None when it is not one of ours."""
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value prefixes
        words = words[1:]
    if not words:
        return None
    if words[0] in scripts:
        return [str(scripts[words[0]])]
    if words[0] == "python" and len(words) > 2 and words[1] == "-m" and words[2].split(".")[0] in PACKAGES:
        return [sys.executable, "-m", words[2]]
    if words[0] == "python" and len(words) > 1 and words[1].startswith("scripts/") and words[1].endswith(".py"):
        return [sys.executable, str(ROOT / words[1])]
    if words[:2] == ["ros2", "run"] and len(words) > 3 and words[2] in PACKAGES:
        path = executable_path(words[2], words[3])
        assert path is not None, f"ros2 run {words[2]} {words[3]}: no such executable"
        return [str(path)]
    return None


def _split(line: str) -> list[list[str]]:
    """The simple commands of a line (split at &&, ;, | and &)."""
    try:
        words = shlex.split(line)
    except ValueError:
        return []
    commands, current = [], []
    for word in words:
        if word in ("&&", ";", "|", "&", "||"):
            commands.append(current)
            current = []
        else:
            current.append(word.rstrip(";&"))
    return [c for c in commands + [current] if c]


def test_every_workspace_command_of_the_readmes_answers_help():
    """Each program the READMEs run (console script, python -m, scripts/, ros2 run) prints its usage with --help."""
    scripts = _console_scripts()
    programs: dict[tuple[str, ...], str] = {}
    for readme, line in _commands():
        for words in _split(line):
            argv = _program(words, scripts)
            if argv is not None:
                programs.setdefault(tuple(argv), f"{readme}: {line}")
    assert len(programs) >= 15, sorted(programs)
    failed = []
    for argv, where in sorted(programs.items()):
        out = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=120)
        if out.returncode != 0 or "usage" not in (out.stdout + out.stderr).lower():
            failed.append(f"{where}\n    {' '.join(argv)} --help: exit {out.returncode}: {out.stderr.strip()[-300:]}")
    print(f"\n{len(programs)} README programs answer --help")
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("readme", [r for r in READMES if "make " in r.read_text()], ids=lambda p: p.parent.name)
def test_make_targets_of_the_readmes_exist(readme):
    """Every `make <target>` in a README's bash blocks is a target of the Makefile."""
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.M))
    name = str(readme.relative_to(ROOT))
    used = {m for where, line in _commands() if where == name for m in re.findall(r"\bmake ([a-z][a-z-]*)", line)}
    assert used <= targets, f"{readme}: unknown make targets {sorted(used - targets)}"
