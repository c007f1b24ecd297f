"""AppTest entry point: runs the real app.py from outside the project root.

AppTest treats a `pages/` folder beside its main script as an old-style multipage app and, on
switch_page, runs the page without app.py (so without the stop button above it); a real
server does not. Started from here, AppTest has no `pages/` folder to misread."""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parents[2] / "app.py"), run_name="__main__")  # the repository root
