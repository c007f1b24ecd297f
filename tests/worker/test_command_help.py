"""Every command the README names, and every one a newcomer could find (`python -m` modules and
bench scripts), answers `--help` with its usage and exit status 0: a help text that cannot be
formatted (an unescaped % in argparse) crashes the one command a new user runs first."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGES = ("console", "core", "db", "worker")


def _is_command(path: Path) -> bool:
    """A package's __main__.py, or a module with an `if __name__ == "__main__":` block."""
    if path.name == "__main__.py":
        return True
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) and "__name__" in ast.unparse(node.test):
            return True
    return False


def commands() -> list[str]:
    """`-m module` for every command module, and every bench script (helpers start with _)."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if _is_command(path):
                parts = path.relative_to(ROOT).with_suffix("").parts
                found.append("-m " + ".".join(parts[:-1] if parts[-1] == "__main__" else parts))
    found += [f"bench/{p.name}" for p in sorted((ROOT / "bench").glob("*.py")) if not p.name.startswith("_")]
    return found


COMMANDS = commands()


@pytest.fixture(scope="module")
def answers() -> dict[str, dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "apps" / "help_runner.py"), *COMMANDS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {row["command"]: row for row in rows}


def test_the_commands_are_found() -> None:
    for expected in ("-m worker", "-m worker.go_live", "-m worker.chat", "-m console", "-m console.auth",
                     "-m db.migrate", "-m core.rl.train", "bench/cycle_latency.py"):  # fmt: skip
        assert expected in COMMANDS, COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_help_prints_the_usage_and_exits_0(command: str, answers: dict[str, dict[str, object]]) -> None:
    assert command in answers, f"{command} --help printed nothing the runner could read (it killed the run?)"
    answer = answers[command]
    output = str(answer["output"])
    assert answer["status"] == 0, f"python {command} --help exited {answer['status']}:\n{output}"
    assert "usage:" in output, output
