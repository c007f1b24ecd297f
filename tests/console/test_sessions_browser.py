"""A login survives a reload (phone size, headless Chromium), logout ends it, and a new password
ends every session; the token is a cookie the browser keeps, its hash a row in the database."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from console.auth import hash_password
from tests.browser_helpers import PASSWORD, PHONE, chromium, open_logged_in, running_console, settled
from tests.conftest import with_params
from tests.console_helpers import scalar


def _shows_console(page: Page) -> bool:
    """After a reload: the console itself, or the login form (waits for one of the two)."""
    stop, login = page.get_by_role("button", name="EMERGENCY STOP"), page.get_by_role("button", name="Log in")
    stop.or_(login).first.wait_for(timeout=30_000)
    settled(page)
    return stop.count() == 1


def test_a_reload_keeps_the_login_and_logout_or_a_new_password_ends_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    with_params(url)
    with chromium() as browser:
        with running_console(url) as base:
            page = open_logged_in(browser, base, "trades", PHONE, True)
            assert [c["name"] for c in page.context.cookies() if c["name"] == "odte_session"] == ["odte_session"]
            page.reload()
            assert _shows_console(page), "a reload asked for the password again"
            page.goto(f"{base}/audit")  # a background-tab restore is a fresh load of any page
            assert _shows_console(page)
            copied = [c for c in page.context.cookies() if c["name"] == "odte_session"]
            page.locator("[data-testid='stExpandSidebarButton']").click()  # a phone: the menu is folded away
            page.get_by_role("button", name="Log out").click()
            page.get_by_role("button", name="Log in").wait_for(timeout=30_000)
            page.reload()
            assert not _shows_console(page), "logout did not end the session"
            other = browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
            other.add_cookies(copied)  # a copy of the cookie taken before the logout
            replay = other.new_page()
            replay.goto(base)
            assert not _shows_console(replay), "a logged-out token still opens the console"
            other.close()
            page.context.close()
            kept = open_logged_in(browser, base, "", PHONE, True)
            cookies = [c for c in kept.context.cookies() if c["name"] == "odte_session"]
            kept.context.close()
        assert scalar(url, "SELECT count(*) FROM consolesession WHERE revoked_at IS NULL") == 1
        renewed = hash_password(PASSWORD)  # the same password, a new hash: what a password change does
        with running_console(url, password_hash=renewed) as base:
            fresh = browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
            fresh.add_cookies([{**c, "domain": "127.0.0.1"} for c in cookies])
            again = fresh.new_page()
            again.goto(base)
            assert not _shows_console(again), "a session outlived the password change"
            fresh.close()
