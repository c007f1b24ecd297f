"""Start the console: `python -m console [--address 127.0.0.1] [--port 8501]`.

Refuses (exit 2) to listen on anything but loopback unless a password hash is configured, so an
exposed console always has its login gate; refuses a malformed hash (it could never match, and
every login would fail without a word why).

Start the console this way, not with `streamlit run app.py`: Streamlit treats a `pages/` folder
beside app.py as an old-style multipage app until the first script run calls st.navigation, and
in that window a request for /trades runs pages/trades.py alone, without app.py's login gate.
Here that mode is switched off before the server starts. (The pages also refuse to render when
app.py's gate did not run first.)"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from console.auth import access_problem, configured_hash, hash_problem, session_lifetime_hours

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8501)
    args = parser.parse_args(argv)
    stored = configured_hash()
    problem = access_problem(args.address, stored) or (hash_problem(stored) if stored else None)
    try:
        session_lifetime_hours()
    except ValueError as exc:
        problem = problem or str(exc)
    if problem:
        print(f"refused: {problem}", file=sys.stderr)
        return 2
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    PagesManager.uses_pages_directory = False  # app.py's st.navigation is the only page registry
    sys.argv = [
        "streamlit", "run", str(ROOT / "app.py"),
        "--server.address", args.address, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    cli.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
