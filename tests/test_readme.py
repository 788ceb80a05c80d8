"""Every code block of README.md runs as written.

Python blocks run in order, one namespace per ``##`` section (as a reader pastes
them one after the other into one session).  Shell blocks are the README's two
commands: their install steps must be exactly what CI (``.ci/run``) runs, and
their ``ridgeline`` commands are run here.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks() -> list[tuple[str, str, str]]:
    """(section, language, code) for every fenced block."""
    out, section = [], "top"
    lines = README.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        m = re.match(r"^```(\w*)\s*$", line)
        if m:
            j = i + 1
            while not lines[j].startswith("```"):
                j += 1
            out.append((section, m.group(1), "\n".join(lines[i + 1 : j])))
            i = j
        i += 1
    return out


BLOCKS = _blocks()
PY_SECTIONS = sorted({s for s, lang, _ in BLOCKS if lang == "python"}, key=[s for s, *_ in BLOCKS].index)
SHELL = [code for _, lang, code in BLOCKS if lang in ("bash", "sh", "console", "shell")]


def test_every_block_has_a_known_language():
    assert {lang for _, lang, _ in BLOCKS} <= {"python", "bash"}
    assert len(PY_SECTIONS) >= 4


@pytest.mark.parametrize("section", PY_SECTIONS)
def test_python_blocks_run(section, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib").use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for s, lang, code in BLOCKS:
        if s == section and lang == "python":
            exec(compile(code, f"README.md[{section}]", "exec"), namespace)  # noqa: S102


def test_shell_blocks_are_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [c.strip() for block in SHELL for line in block.splitlines() for c in line.split("&&") if c.strip()]
    installs = [c for c in commands if c.startswith("pip ")]
    assert installs, "the README must say how to install"
    for c in installs:
        assert c in ci, f"README command {c!r} is not what .ci/run runs"
    assert "pytest" in commands


@pytest.mark.parametrize(
    "command",
    [c.strip() for block in SHELL for line in block.splitlines() for c in line.split("&&") if c.strip().startswith("ridgeline ")],
)
def test_shell_ridgeline_commands_run(command):
    argv = shlex.split(command)
    proc = subprocess.run(
        [sys.executable, "-m", "ridgeline", *argv[1:]], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
