"""Start the console: `python -m console [--address 127.0.0.1] [--port 8501]`.

Refuses (exit 2) to listen on anything but loopback unless a password hash is configured, so an
exposed console always has its login gate."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from console.auth import access_problem, configured_hash

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8501)
    args = parser.parse_args(argv)
    problem = access_problem(args.address, configured_hash())
    if problem:
        print(f"refused: {problem}", file=sys.stderr)
        return 2
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
        "--server.address", args.address, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    os.execv(sys.executable, command)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
