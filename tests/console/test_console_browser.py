"""End to end in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): the
console served by `python -m console` with its login gate, on a database seeded by a real backtest.

At phone size (390x844) the trading state and the stop are visible without scrolling, charts fit
the width, and a click on stop shows HALTED in the database within a second. Every page is
saved as a screenshot at desktop and phone size under artifacts/screenshots/."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from console.controls import LIVE_REFRESH_S
from core.types import TradingState
from db.control import set_trading_state
from db.engine import make_engine
from tests.browser_helpers import DESKTOP, PHONE, SHOTS, chromium, in_view, log_in, running_console, settled
from tests.browser_helpers import open_logged_in as _open
from tests.console_helpers import scalar, seed_database

PAGES = {
    "overview": "",
    "trades": "trades",
    "decisions": "decisions",
    "parity": "parity",
    "risk": "risk",
    "readiness": "readiness",
    "parameters": "parameters",
    "models": "models",
    "audit": "audit",
}


def wait_for_state(url: str, state: str, failure: str) -> None:
    """Wait until the stored trading state is `state` (a stuck click fails, not a slow one)."""
    deadline = time.monotonic() + 60
    while scalar(url, "SELECT state FROM controlstate") != state:
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, database URL) of a running console with its login gate on."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'browser.db'}"
    seed_database(url)
    with running_console(url) as base:
        yield base, url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def test_a_fresh_server_asks_for_the_login_even_for_a_deep_link(browser: Browser, console: tuple[str, str]) -> None:
    """The first request a new server sees is /trades: the login gate must still come first
    (Streamlit would otherwise run pages/trades.py alone; see console/__main__.py)."""
    base, _ = console
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{base}/trades")
    page.get_by_role("button", name="Log in").wait_for(timeout=30_000)
    heading = page.get_by_role("heading", name="Trades", exact=True)
    assert page.get_by_text("Filters").count() == 0 and heading.count() == 0
    log_in(page)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Trades", exact=True).wait_for(timeout=30_000)  # the deep link survives the login
    page.get_by_text("Filters").first.wait_for(timeout=30_000)  # the heading renders before the filters do
    settled(page)
    assert page.get_by_text("Filters").count() == 1
    page.close()


def test_every_page_at_phone_and_desktop_size(browser: Browser, console: tuple[str, str]) -> None:
    """Logged in once per screen size (the session cookie carries the login from page to page),
    each page opened by its address as a bookmark would."""
    base, _ = console
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, viewport, phone in (("phone", PHONE, True), ("desktop", DESKTOP, False)):
        page = _open(browser, base, "", viewport, phone)
        for name, path in PAGES.items():
            if path:  # the overview is where the login landed
                page.goto(f"{base}/{path}")
                page.get_by_role("button", name="EMERGENCY STOP").wait_for(timeout=30_000)
                page.get_by_role("heading", name=name.capitalize(), exact=True).first.wait_for(timeout=30_000)
                settled(page)
            charts = page.locator("[data-testid='stPlotlyChart']")
            for i in range(charts.count()):  # drawn, not only placed
                charts.nth(i).locator(".main-svg").first.wait_for(state="attached", timeout=30_000)
            assert page.locator("h1").last.inner_text() == name.capitalize()
            stop = page.get_by_role("button", name="EMERGENCY STOP")
            state = page.get_by_text("Trading state:", exact=False).first
            assert in_view(page, stop.bounding_box()), f"{label} {name}: stop not visible without scrolling"
            assert in_view(page, state.bounding_box()), f"{label} {name}: state not visible without scrolling"
            for chart in charts.all():
                box = chart.bounding_box()
                if box is not None and box["width"] > 0:
                    fits = box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 0.5
                    assert fits, f"{label} {name}: a chart is wider than the screen"
            page.screenshot(path=str(SHOTS / f"{label}-{name}.png"), full_page=False)
        page.context.close()


def test_csv_export_downloads_every_filtered_trade(browser: Browser, console: tuple[str, str]) -> None:
    base, url = console
    page = _open(browser, base, "trades", DESKTOP, False)
    button = page.get_by_role("button", name="Download CSV")
    button.wait_for(state="visible", timeout=30_000)
    for attempt in range(3):  # a click that lands while the page reruns is dropped by the browser page:
        settled(page)  # wait for the run to finish and click again, as a person would (the CSV is the test)
        try:
            with page.expect_download(timeout=30_000) as download:
                button.click()
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(rows) == scalar(url, "SELECT count(*) FROM trade WHERE status = 'closed'")
    assert {"entry_reason_code", "exit_reason_code", "realized_pnl", "model_version"} <= set(rows[0])
    page.context.close()


def test_login_then_stop_on_a_phone_halts(browser: Browser, console: tuple[str, str]) -> None:
    """One tap records HALTED (how fast is a figure for bench/stop_latency.py, not a test)."""
    base, url = console
    page = _open(browser, base, "", PHONE, True)
    assert scalar(url, "SELECT state FROM controlstate") != "HALTED"
    page.get_by_role("button", name="EMERGENCY STOP").click()
    wait_for_state(url, "HALTED", "the click never recorded HALTED")
    assert scalar(url, "SELECT who FROM controlevent ORDER BY id DESC LIMIT 1") == "carol"
    assert scalar(url, "SELECT flatten FROM controlstate") == 1
    page.get_by_text("HALTED").first.wait_for(timeout=10_000)
    page.screenshot(path=str(SHOTS / "phone-after-stop.png"))
    page.context.close()


def test_resume_from_a_phone_needs_the_dialogs_confirmation(browser: Browser, console: tuple[str, str]) -> None:
    base, url = console
    page = _open(browser, base, "", PHONE, True)
    if scalar(url, "SELECT state FROM controlstate") != "HALTED":
        page.get_by_role("button", name="EMERGENCY STOP").click()
        page.get_by_role("button", name="Resume trading...").wait_for(timeout=10_000)
    settled(page)
    dialog = page.get_by_role("dialog")
    confirm = dialog.get_by_role("button", name="Confirm resume")
    deadline = time.monotonic() + 60  # a click that lands while the bar re-renders is retried, as a person would
    while not confirm.is_visible():
        assert time.monotonic() < deadline, "the resume button never opened its dialog"
        try:
            page.get_by_role("button", name="Resume trading...").click(timeout=5_000)
            confirm.wait_for(timeout=5_000)
        except PlaywrightTimeout:
            pass
    watch_until = time.monotonic() + 2 * LIVE_REFRESH_S + 1  # two of the bar's own refreshes under the open dialog
    while time.monotonic() < watch_until:  # the confirm button never leaves the operator's finger
        assert confirm.is_visible(), "the bar's refresh closed the resume dialog"
        page.wait_for_timeout(100)
    assert scalar(url, "SELECT state FROM controlstate") == "HALTED"  # opening the dialog changes nothing
    dialog.get_by_role("button", name="Confirm resume").click()
    wait_for_state(url, "ACTIVE", "confirming the dialog did not resume")
    assert scalar(url, "SELECT who || ':' || reason_code FROM controlevent ORDER BY id DESC LIMIT 1") == (
        "carol:operator_resume"
    )
    page.context.close()


def test_a_reason_typed_through_the_bars_refreshes_goes_with_the_stop(
    browser: Browser, console: tuple[str, str]
) -> None:
    """The reason box lives in the bar that refreshes itself every 2 s: typing across several
    refreshes keeps every character, and a stop pressed without Enter writes it to the audit row."""
    base, url = console
    if scalar(url, "SELECT state FROM controlstate") != "ACTIVE":  # run alone, without the resume test before it
        set_trading_state(make_engine(url), TradingState.ACTIVE, "test", "test_setup", "Set up for this test.")
    page = _open(browser, base, "", PHONE, True)
    box = page.get_by_placeholder("Reason (optional): written with the next action")
    box.click()
    words = "market data looks broken today"
    box.press_sequentially(words, delay=200)  # about 6 s of typing: three of the bar's refreshes
    assert box.input_value() == words
    page.get_by_role("button", name="EMERGENCY STOP").click()
    wait_for_state(url, "HALTED", "the click never recorded HALTED")
    assert scalar(url, "SELECT reason FROM controlevent ORDER BY id DESC LIMIT 1") == (
        f"Emergency stop from the console: {words}"
    )
    page.context.close()


def test_a_saved_edit_says_so_where_the_phone_is_looking(browser: Browser, console: tuple[str, str]) -> None:
    """On a phone the top of the page is far above the Save button: the confirmation must be on
    screen after saving, not at the top."""
    base, url = console
    page = _open(browser, base, "parameters", PHONE, True)
    page.get_by_role("tab", name="Entries").click()
    field = page.get_by_role("spinbutton", name="min_confidence (probability)", exact=True)
    field.fill("0.61")
    field.press("Enter")
    settled(page)
    page.get_by_label("Note (why this change)").fill("browser test")
    page.get_by_label("Note (why this change)").press("Enter")
    settled(page)
    save = page.get_by_role("button", name="Save as new version")
    save.scroll_into_view_if_needed()
    save.click()
    message = page.get_by_text("Saved version", exact=False).first
    message.wait_for(timeout=30_000)
    settled(page)
    assert in_view(page, message.bounding_box()), "the save's confirmation is off screen"
    assert scalar(url, "SELECT note FROM paramversion ORDER BY id DESC LIMIT 1") == "browser test"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "phone-parameters-saved.png"))
    page.context.close()
