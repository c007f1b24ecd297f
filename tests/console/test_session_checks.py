"""The parts of a page that run without app.py's gate check the session themselves: every fragment
and dialog (they rerun alone: their own refreshes, their buttons) goes through the session's
wrappers, and the CSV download (made on the click, outside any script run) only for a live
session. The two-tab browser test (test_stale_tab_browser.py) shows the effect end to end."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

from console import auth, login
from db import console_sessions
from db.engine import make_engine
from tests.support import ROOT

SOURCES = sorted([*(ROOT / "console").glob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"])
UNCHECKED = {"fragment", "dialog"}  # st.fragment and st.dialog run without app.py's gate


def _unchecked_uses(path: Path) -> list[str]:
    """Every `st.fragment` / `st.dialog` in a module outside console/login.py, where the checked
    wrappers are built from them."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in UNCHECKED and getattr(node.value, "id", None) == "st":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} st.{node.attr}")
    return found


def test_every_fragment_and_dialog_checks_the_session_first() -> None:
    unchecked = [use for path in SOURCES if path.name != "login.py" for use in _unchecked_uses(path)]
    assert unchecked == [], "use console.login.session_fragment / session_dialog"
    wrapped = [p.name for p in SOURCES if "@session_fragment" in p.read_text() or "@session_dialog" in p.read_text()]
    assert sorted(wrapped) == ["controls.py", "overview.py", "position_controls.py", "whatif_view.py"]


def test_the_csv_is_made_only_while_the_session_that_offered_it_is_live(
    migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = auth.hash_password("correct horse battery staple")
    monkeypatch.setenv("DATABASE_URL", migrated)
    monkeypatch.setenv("CONSOLE_PASSWORD_HASH", stored)
    engine = make_engine(migrated)
    token = console_sessions.open_session(engine, user="bob", password_hash=stored, lifetime=timedelta(hours=1))
    monkeypatch.setattr(login.st, "session_state", {"session_token": token})  # the tab that drew the button
    download = login.checked_download(lambda: "id,realized_pnl\n1,2.5\n")
    assert download() == "id,realized_pnl\n1,2.5\n"
    console_sessions.revoke(engine, token=token)  # logged out in another tab
    engine.dispose()
    with pytest.raises(PermissionError, match="log in again"):
        download()
