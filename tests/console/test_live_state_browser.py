"""The console's state is live on every page (phone size, headless Chromium, a real worker):
a stop pressed on one page shows HALTED and then the worker's confirmation on that page and on
a second page already open, with no reload; the state and the stop stay on screen while a long
page scrolls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from playwright.sync_api import Page

from tests.browser_helpers import PHONE, SHOTS, chromium, in_view, open_logged_in, running_console, settled
from tests.console_helpers import scalar, seed_database
from tests.support import ROOT, poll


def _scroll_main(page: Page, pixels: int) -> None:
    page.evaluate(f"document.querySelector('[data-testid=stMain]').scrollBy(0, {pixels})")


def test_a_stop_on_one_page_shows_halted_and_the_confirmation_on_both_without_reload(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    seed_database(url, days=2)
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker", "--db", url, "--speed", "60", "--model", "none"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        poll(url, "SELECT count(*) FROM workerstatus WHERE stopped = 0", lambda n: n == 1, proc=worker)
        with running_console(url) as base, chromium() as browser:
            watching = open_logged_in(browser, base, "trades", PHONE, True)  # a second page, left open
            pressing = open_logged_in(browser, base, "parameters", PHONE, True)
            watching.get_by_text("Worker: alive", exact=False).wait_for(timeout=30_000)
            url_before = (watching.url, pressing.url)
            _scroll_main(pressing, 3000)  # a long page, scrolled down: the stop is still there
            stop = pressing.get_by_role("button", name="EMERGENCY STOP")
            assert in_view(pressing, stop.bounding_box()), "the stop scrolled away"
            stop.click()
            for page in (pressing, watching):
                page.get_by_text("Trading state: HALTED").wait_for(timeout=30_000)
                page.get_by_text("Worker confirmed:", exact=False).wait_for(timeout=60_000)
                assert in_view(page, page.get_by_text("Trading state: HALTED").bounding_box())
            assert (watching.url, pressing.url) == url_before, "no page was reloaded or navigated"
            assert scalar(url, "SELECT halt_applied_at IS NOT NULL FROM controlstate") == 1
            SHOTS.mkdir(parents=True, exist_ok=True)
            pressing.screenshot(path=str(SHOTS / "phone-stop-confirmed.png"))
            settled(watching)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
