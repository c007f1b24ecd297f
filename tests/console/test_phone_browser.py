"""At phone size (390x844) in Chromium: the columns a trader acts on are on screen without
scrolling sideways (the Overview's latest decisions, Trades, Decisions and a decision's record,
each Readiness criterion with what is missing), and the equity and today's P&L are in the first
screen above the demo banner. One console, one login, one load of each page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, Page

from core.params import TradingParams, params_to_json
from db.control import save_param_version
from db.engine import make_engine
from db.presets import DEMO_AUTHOR, DEMO_TRADES_PER_DAY, demo_note
from tests.browser_helpers import PHONE, chromium, in_view, open_logged_in, running_console, settled
from tests.conftest import with_params
from tests.console_helpers import seed_database
from tests.go_live_helpers import SMALL_GATE, seed_paper_record

# Each grid's header (its accessible table) and whether its columns scroll sideways.
GRIDS = """() => [...document.querySelectorAll("[data-testid='stDataFrame']")].map(d => {
  const box = d.getBoundingClientRect(), scroller = d.querySelector('.dvn-scroller');
  return {left: box.left, right: box.right, scrolls: scroller ? scroller.scrollWidth > scroller.clientWidth + 1 : null,
          headers: [...d.querySelectorAll('th')].map(t => t.textContent)};
})"""


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Page, str]]:
    """(a phone's page logged in, the console's base URL) on a backtest's trades, a paper record
    for the gate and the demo preset active."""
    url = f"sqlite:///{tmp_path_factory.mktemp('phone') / 'phone.db'}"
    seed_database(url, days=2)
    engine = make_engine(url)
    seed_paper_record(engine, with_params(url, **{**SMALL_GATE, "gate_min_paper_sessions": 20}))
    demo = {**params_to_json(TradingParams()), "policy_mode": "rules", "max_trades_per_symbol_day": DEMO_TRADES_PER_DAY}
    save_param_version(engine, demo, author=DEMO_AUTHOR, note=demo_note(TradingParams()))
    engine.dispose()
    with running_console(url) as base, chromium() as browser:
        page = open_logged_in(browser, base, "", PHONE, True)
        yield page, base
        page.context.close()


def _open(page: Page, base: str, path: str, title: str) -> None:
    page.goto(f"{base}/{path}")
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=30_000)
    settled(page)


def _grid(page: Page, headers: tuple[str, ...]) -> dict[str, Any]:
    """The grid whose header starts with `headers`, once it has drawn (scrolled to, as a thumb would)."""
    for frame in page.locator("[data-testid='stDataFrame']").all():
        frame.scroll_into_view_if_needed()
    for _ in range(100):
        found = [g for g in page.evaluate(GRIDS) if tuple(g["headers"][: len(headers)]) == headers]
        if found:
            return dict(found[0])
        page.wait_for_timeout(100)
    raise AssertionError(f"no table leads with {headers}: {[g['headers'] for g in page.evaluate(GRIDS)]}")


def _on_screen_sideways(page: Page, grid: dict[str, Any], what: str) -> None:
    width = (page.viewport_size or PHONE)["width"]
    assert grid["left"] >= 0 and grid["right"] <= width + 0.5, f"{what}: the table is wider than the screen"
    assert grid["scrolls"] is False, f"{what}: columns {grid['headers']} scroll off to the side"


def _box(locator: Locator) -> dict[str, float] | None:
    locator.wait_for(timeout=30_000)
    return locator.bounding_box()


def test_a_phone_sees_what_it_acts_on_without_scrolling_sideways(phone: tuple[Page, str]) -> None:
    page, base = phone
    _open(page, base, "", "Overview")
    equity = page.locator("[data-testid='stMetric']").filter(has_text="Equity").first
    today = page.locator("[data-testid='stMetric']").filter(has_text="Today's P&L").first
    banner = page.get_by_text("Demo preset (version", exact=False).first
    for name, metric in (("equity", equity), ("today's P&L", today)):
        box = _box(metric)
        assert in_view(page, box), f"{name} is not in the first screen: {box}"
        assert box is not None and box["y"] < (_box(banner) or {"y": 0})["y"], f"{name} is under the demo banner"
    _on_screen_sideways(page, _grid(page, ("final_action", "blocked_by")), "Overview's latest decisions")

    _open(page, base, "trades", "Trades")
    _on_screen_sideways(page, _grid(page, ("realized_pnl", "exit_reason_code")), "Trades")

    _open(page, base, "decisions", "Decisions")
    assert not page.get_by_text("Date range").is_visible(), "the Decisions filters start open"
    listed = _grid(page, ("time (ET)", "final_action", "confidence", "blocked_by"))
    _on_screen_sideways(page, listed, "Decisions")
    _on_screen_sideways(page, _grid(page, ("field", "value")), "a decision's record")
    verdict = page.get_by_text("the worker did", exact=False).first
    verdict.scroll_into_view_if_needed()
    box = _box(verdict)
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], "the record's verdict"

    _open(page, base, "readiness", "Readiness")
    lines = page.locator(".st-key-gate_criteria [data-testid='stMarkdown']")
    assert lines.count() >= 5
    for i in range(lines.count()):
        line = lines.nth(i)
        text = line.inner_text()
        assert text.startswith(("pass", "FAIL")) and ("Missing:" in text) == text.startswith("FAIL"), text
        box = _box(line)
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], text

    _open(page, base, "parameters", "Parameters")
    said = page.get_by_text("rule baseline decides", exact=False).filter(visible=True)
    assert said.count() == 1, "the demo preset is said more than once on Parameters"
