"""No secret in a process list or a printed line: the console's child processes get the database
URL in their environment, and the migration command masks the password."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from console import broker_stop, whatif_view
from db.migrate import shown
from tests.support import ROOT

URL = "postgresql://trader:s3cret-pw@db.internal:5432/trading"


def test_the_direct_stop_gets_the_url_in_its_environment_not_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.update(cmd=cmd, env=kwargs.get("env") or {})
        return subprocess.CompletedProcess(cmd, 0, "flat\n", "")

    monkeypatch.setattr(broker_stop.subprocess, "run", run)
    assert broker_stop.flatten_at_broker(URL, "paper", "alice") == (True, "flat")
    assert "s3cret-pw" not in " ".join(seen["cmd"]) and seen["env"]["DATABASE_URL"] == URL


def test_the_what_if_child_gets_the_url_in_its_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    class Popen:
        def __init__(self, cmd: list[str], **kwargs: Any) -> None:
            seen.update(cmd=cmd, env=kwargs.get("env") or {})

    monkeypatch.setattr(whatif_view.subprocess, "Popen", Popen)
    monkeypatch.setattr(whatif_view, "JOBS", tmp_path)
    monkeypatch.setattr(whatif_view, "database_url", lambda: URL)
    whatif_view.start({"min_confidence": 0.6}, 20)
    assert "s3cret-pw" not in " ".join(seen["cmd"]) and seen["env"]["DATABASE_URL"] == URL


def test_the_migration_command_masks_the_password() -> None:
    assert shown(URL) == "postgresql://trader:***@db.internal:5432/trading"


def test_secrets_are_kept_out_of_git_and_the_image() -> None:
    for name in (".gitignore", ".dockerignore"):
        rules = (ROOT / name).read_text().splitlines()
        assert {".env", ".streamlit/secrets.toml"} <= set(rules), name
    assert "data" in (ROOT / ".dockerignore").read_text().splitlines()
    compose = (ROOT / "docker-compose.yml").read_text()
    assert '"${CONSOLE_BIND:-127.0.0.1}:8501:8501"' in compose, "the console on loopback by default"
