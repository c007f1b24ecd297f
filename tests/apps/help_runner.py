"""Runs `--help` of every command given on the command line, in this one process (a command is
`-m module` or a script path), and prints one JSON line per command: its exit status and output.

One process for all of them keeps the test cheap (the heavy imports are paid once); each command
still runs as `python -m module --help` would run it: as `__main__`, through its own parser.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import sys
import traceback


def run_help(command: str) -> tuple[int, str]:
    """(exit status, what it printed) of `command --help`."""
    out = io.StringIO()
    status = 0
    module = command.removeprefix("-m ") if command.startswith("-m ") else None
    sys.argv = [module or command, "--help"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            if module is not None:
                runpy.run_module(module, run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(command, run_name="__main__")
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # the crash is the finding
            traceback.print_exc(file=out)
            status = 1
    return status, out.getvalue()


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # as `python -m` run from the repository root would have it
    for command in sys.argv[1:]:
        status, text = run_help(command)
        print(json.dumps({"command": command, "status": status, "output": text[-4000:]}), flush=True)
