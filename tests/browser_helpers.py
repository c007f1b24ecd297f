"""Shared by the browser tests: Debian's Chromium under Playwright, a console served by
`python -m console` with its login gate, and the waits a person's eyes do (never fixed sleeps
as assertions)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from console.auth import hash_password
from tests.support import ROOT

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"
PASSWORD = "browser-test-password"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
# Chromium on a machine with no network: no background services, no sandbox as root.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_console(
    url: str, user: str = "carol", password_hash: str | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """A console on `url` with its login gate on (PASSWORD, or `password_hash`) and `extra_env` in its
    environment; yields its base URL."""
    port = free_port()
    stored = password_hash or hash_password(PASSWORD)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CONSOLE_PASSWORD_HASH": stored,
        "CONSOLE_USER": user,
        **(extra_env or {}),
    }
    proc = subprocess.Popen([sys.executable, "-m", "console", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the console did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: `make browser` installs chromium and chromium-driver")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_logged_in(
    browser: Browser, base: str, path: str, viewport: dict[str, int], phone: bool, user: str = "carol"
) -> Page:
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone, accept_downloads=True)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(f"{base}/{path}")
    log_in(page, user)
    return logged_in(page)


def log_in(page: Page, user: str = "carol") -> None:
    """Type the user and the password into the login form (the user is never filled in for you)."""
    page.get_by_role("textbox", name="User").fill(user)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)


def logged_in(page: Page) -> Page:
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="EMERGENCY STOP").wait_for(timeout=30_000)
    page.locator("h1").last.wait_for(timeout=30_000)
    settled(page)
    return page


def settled(page: Page) -> None:
    """Wait until the script run that the login started has finished (Streamlit's 'running'
    widget is gone), so a click lands on the finished page, as a person's would."""
    page.wait_for_timeout(300)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=30_000)


def in_view(page: Page, box: dict[str, float] | None) -> bool:
    size = page.viewport_size or PHONE
    return box is not None and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= size["width"] + 0.5 \
        and box["y"] + box["height"] <= size["height"]  # fmt: skip
