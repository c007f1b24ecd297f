"""Two real tabs and hostile text (headless Chromium, one console server for the module).

A tab whose session was logged out in another tab acts on nothing: each control clicked there
(stop new entries, the emergency stop, close a position, cancel an order, the what-if, a
parameter save) applies nothing (no state change, no control request, no audit row, no
parameter version, no what-if process) and the tab shows the login. The control bar and the
Overview's live section refresh themselves as fragments, which rerun without app.py's gate.

Text from outside the product (notes, reasons, the stop's summary, a broker's message, an
override's reason, a trade's exit reason, a login's user name) renders as text on every page:
no link, no image, no math, no request to the address it names; dollar amounts show as written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import text

from core.types import TradingState
from db import console_sessions, control_requests
from db.control import save_param_version, set_trading_state, utcnow
from db.engine import make_engine
from db.go_live import current_model_version, grant_override
from db.presets import DEMO_AUTHOR
from tests.browser_helpers import DESKTOP, chromium, log_in, logged_in, running_console, settled
from tests.console_helpers import PAGES, rows, scalar, seed_database

HOSTILE = (
    "**bold** [link](http://127.0.0.1:9/x) ![img](http://127.0.0.1:9/x.png) $x$ http://127.0.0.1:9/bare "
    "<b>b</b> www.example.org costs $5 and $6"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """(base URL, database URL, the console's temporary folder): a day's backtest, one of its
    trades open again and one order working, so that every control is on screen."""
    folder = tmp_path_factory.mktemp("stale_tab")
    url = f"sqlite:///{folder / 'tabs.db'}"
    seed_database(url, days=1)
    engine = make_engine(url)
    with engine.begin() as conn:
        trade = conn.execute(text("SELECT max(id) FROM trade")).scalar()
        conn.execute(text("UPDATE trade SET status = 'open', qty_open = entry_qty, exit_time = NULL, "
                          "mark_bid = entry_avg WHERE id = :t"), {"t": trade})  # fmt: skip
        conn.execute(text("UPDATE orders SET status = 'accepted' WHERE id = (SELECT max(id) FROM orders)"))
    engine.dispose()
    temp = folder / "tmp"
    temp.mkdir()
    with running_console(url, extra_env={"TMPDIR": str(temp)}) as base:  # the what-if's job files land here
        yield base, url, temp


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _applied(url: str, temp: Path) -> dict[str, Any]:
    """Everything a control could have changed."""
    return {
        "state": rows(url, "SELECT state, flatten FROM controlstate"),
        "audit": scalar(url, "SELECT count(*) FROM controlevent"),
        "requests": scalar(url, "SELECT count(*) FROM controlrequest"),
        "versions": scalar(url, "SELECT count(*) FROM paramversion"),
        "whatif jobs": sorted(p.name for p in temp.rglob("*.json")),
    }


def _new_session_cookie(page: Page, old: str) -> str:
    """The session cookie once the browser holds a new one (the login writes it from a script)."""
    for _ in range(300):
        found = [c["value"] for c in page.context.cookies() if c["name"] == "odte_session"]
        if found and found[0] not in ("", old):
            return found[0]
        page.wait_for_timeout(100)
    raise AssertionError("the login never wrote its session cookie")


def _overview_expanded(page: Page) -> None:
    page.get_by_text("Close a position or cancel an order").click()
    page.get_by_role("button", name="Close this position").wait_for(timeout=30_000)


def _edited_parameter(page: Page) -> None:
    page.get_by_role("tab", name="Entries").click()
    field = page.get_by_role("spinbutton", name="min_confidence (probability)", exact=True)
    field.fill("0.61")
    field.press("Enter")
    settled(page)
    page.get_by_role("button", name="Save as new version").wait_for(timeout=30_000)


CONTROLS: list[tuple[str, str, Callable[[Page], None] | None]] = [
    ("", "Stop new entries", None),
    ("", "EMERGENCY STOP", None),
    ("", "Close this position", _overview_expanded),
    ("", "Cancel this order", _overview_expanded),
    ("parameters", "Try on past sessions", None),
    ("parameters", "Save as new version", _edited_parameter),
]


def test_a_tab_logged_out_in_another_tab_acts_on_nothing_and_shows_the_login(
    browser: Browser, served: tuple[str, str, Path]
) -> None:
    base, url, temp = served
    engine = make_engine(url)
    set_trading_state(engine, TradingState.ACTIVE, "test", "test_setup", "Set up for this test.")
    engine.dispose()
    before = _applied(url, temp)
    landed, token = [], ""
    context = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    first, stale = context.new_page(), context.new_page()  # two tabs: the same cookie logs both in
    first.goto(base)
    for path, control, prepare in CONTROLS:
        log_in(first)  # a new session for each control
        logged_in(first)
        token = _new_session_cookie(first, token)  # written by the page after the login, a moment later
        stale.goto(f"{base}/{path}")
        stale.get_by_role("button", name="EMERGENCY STOP").wait_for(timeout=30_000)
        settled(stale)
        if prepare is not None:
            prepare(stale)
        button = stale.get_by_role("button", name=control, exact=True)
        button.wait_for(timeout=30_000)
        first.get_by_role("button", name="Log out").click()
        first.get_by_role("button", name="Log in").wait_for(timeout=30_000)
        try:  # at once: before the stale tab's own refresh notices, if the click can beat it
            button.click(timeout=3_000)
            landed.append(control)
        except PlaywrightTimeout:
            pass  # the tab's refresh already sent it to the login: the control is gone
        # the page loaded afresh (a generous bound for a busy machine, not a speed check)
        stale.get_by_role("button", name="Log in").wait_for(timeout=120_000)
        settled(stale)
        stale.get_by_text("Your session ended", exact=False).wait_for(timeout=30_000)
        assert stale.get_by_role("button", name="EMERGENCY STOP").count() == 0, f"{control}: the console still shows"
        assert _applied(url, temp) == before, f"{control}: clicked in a logged-out tab, something was applied"
        # the stale tab, loaded afresh on the login, logs in next; the other tab opens the next control
        first, stale = stale, first
    context.close()
    print(f"clicks that landed before the tab's refresh: {landed}")


def _hostile_rows(url: str) -> None:
    """The hostile text in every free field a page shows."""
    engine = make_engine(url)
    set_trading_state(engine, TradingState.HALTED, "mallory", "operator_stop", HOSTILE, flatten=True)
    trade = int(scalar(url, "SELECT id FROM trade WHERE status = 'open'"))  # type: ignore[arg-type]
    request = control_requests.request_close(engine, trade_id=trade, who="mallory", reason=HOSTILE)
    control_requests.settle(engine, request_id=request, status="refused", result=HOSTILE)
    console_sessions.record_attempt(engine, user=HOSTILE, source="203.0.113.9", outcome="wrong_password")
    with engine.begin() as conn:  # the backtest's decisions as a worker's: the gate judges them
        conn.execute(text("UPDATE run SET kind = 'worker'"))
    model = current_model_version(engine)
    assert model is not None
    grant_override(engine, who="mallory " + HOSTILE, reason=HOSTILE, size_cap=0.1, sessions=2, model_version=model)
    with engine.begin() as conn:
        conn.execute(text("UPDATE controlstate SET halt_summary = :s"), {"s": HOSTILE})
        conn.execute(text("UPDATE trade SET exit_reason = :s WHERE status = 'closed'"), {"s": HOSTILE})
        conn.execute(text("UPDATE decision SET blocked_reason = :s WHERE id % 7 = 0"), {"s": HOSTILE})
        conn.execute(text("INSERT INTO event (time, level, code, message) VALUES (:t, 'error', 'broker', :s)"),
                     {"t": utcnow(), "s": HOSTILE})  # fmt: skip
        conn.execute(text("DELETE FROM workerstatus"))
        conn.execute(text("INSERT INTO workerstatus (id, run_id, pid, host, mode, started_at, heartbeat_at, "
                          "lease_token, state_seen, last_cycle_ms, stopped) VALUES ('worker', 'live', 1, 'h', "
                          "'live', :t, :t, 1, 'HALTED', 1.0, 0)"), {"t": utcnow()})  # fmt: skip
    engine.dispose()


FINDINGS = """() => {
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const own = (u) => { try { return new URL(u, location.href).origin === location.origin; } catch { return false; } };
  const links = [...document.querySelectorAll('a[href]')].filter(a => !own(a.getAttribute('href')))
    .map(a => a.parentElement.outerHTML.slice(0, 300));
  const images = [...document.querySelectorAll('img[src]')]
    .filter(i => !own(i.getAttribute('src')) && !i.getAttribute('src').startsWith('data:'))
    .map(i => i.outerHTML.slice(0, 120));
  const math = document.querySelectorAll('.katex, .katex-display, math').length;
  const bold = [...main.querySelectorAll('strong, b')].filter(e => ['bold', 'b'].includes(e.textContent.trim())).length;
  return {links, images, math, bold, text: main.innerText.replaceAll('\u2060', '')};  // the joiner plain() adds
}"""


def test_hostile_text_renders_as_text_on_every_page(browser: Browser, served: tuple[str, str, Path]) -> None:
    base, url, _ = served
    engine = make_engine(url)
    save_param_version(engine, {"min_confidence": 0.62}, author=DEMO_AUTHOR, note=HOSTILE)  # the demo banner's note
    engine.dispose()
    _hostile_rows(url)
    context = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if "127.0.0.1:9/" in r.url else None)
    page.goto(base)
    log_in(page)
    logged_in(page)
    shown: dict[str, dict[str, Any]] = {}
    for name in PAGES:
        page.goto(f"{base}/{'' if name == 'overview' else name}")
        page.locator("h1").last.wait_for(timeout=30_000)
        page.get_by_role("button", name="EMERGENCY STOP").wait_for(timeout=30_000)
        settled(page)
        found = page.evaluate(FINDINGS)
        shown[name] = found
        assert found["links"] == [] and found["images"] == [], (name, found["links"], found["images"])
        assert found["math"] == 0 and found["bold"] == 0, (name, found["math"], found["bold"])
    assert outside == [], f"the browser fetched what the text names: {outside}"
    assert "[link](http://127.0.0.1:9/x)" in shown["overview"]["text"], "the demo note shown as its own characters"
    assert "$x$" in shown["overview"]["text"] and "costs $5 and $6" in shown["overview"]["text"]
    assert "STOP INCOMPLETE: **bold**" in shown["overview"]["text"], "the stop's summary as text"
    assert "Reason: **bold** [link]" in shown["readiness"]["text"], "the override's reason as text"
    assert "LIVE trading while the go-live gate is not met" in shown["readiness"]["text"]
    assert "$/contract" in shown["readiness"]["text"] or " $ " in shown["readiness"]["text"], "the gate's dollars"
    assert "% of equity (" in shown["risk"]["text"] and " $)" in shown["risk"]["text"], "the limits' dollars"
    assert "Exit: **bold**" in shown["trades"]["text"], "a trade's exit reason as text"
    context.close()
