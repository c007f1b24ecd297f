"""Alerts: the relay reads what the worker wrote and apprise posts it to a local endpoint (its
json:// notification); bursts fold, a failed send is an event and is not retried, a stale
heartbeat and the close are noticed, and the `alert_events` parameter chooses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import apprise
import pytest
from sqlalchemy import create_engine, text

from core.alerts import Alert, AlertKind
from core.calendar import session_for
from core.types import FillEvent, OptionContract, Reason, Right, Side, TradingState
from db.alert_reads import EventRow
from db.control import set_trading_state, utcnow
from db.engine import make_engine
from db.journal import Journal
from tests.alert_endpoint import Endpoint, alert_endpoint
from tests.conftest import with_params
from worker.alerts.command import failure_recorder
from worker.alerts.relay import AlertRelay, event_alert
from worker.alerts.sender import AlertConfigError, AlertSender, channels_from_env
from worker.book.book import Book
from worker.book.intent import EntryIntent

DAY = session_for(date(2026, 2, 20))
assert DAY is not None
CONTRACT = OptionContract("SPY", DAY.day, 600.0, Right.CALL)


def _wait(check: Any, what: str) -> None:
    deadline = time.monotonic() + 120
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    with alert_endpoint() as ep:
        yield ep


def _journal(url: str) -> Journal:
    journal = Journal(make_engine(url), "worker-test")
    journal.start_run("worker", "sim", "synthetic", 7, {})
    return journal


def _sender(ep: Endpoint, url: str, **kw: Any) -> AlertSender:
    channels = apprise.Apprise()
    assert channels.add(ep.url)
    return AlertSender(channels, failure_recorder(url), **{"fold_s": 0.2, **kw})  # type: ignore[arg-type]


def _trade(book: Book, exit_price: float) -> None:
    at = DAY.at(60)
    intent = EntryIntent(Reason("rules_entry", "Trend up, RSI 58."), 0.81, "normal", 18.0, "rules", 1, 0.1, 0.05, 1)
    book.apply_fill(FillEvent("cid-open", CONTRACT, Side.BUY, 2, 1.25, 1.30, at, at), intent, None)
    out = at + timedelta(minutes=23)
    book.apply_fill(
        FillEvent("cid-close", CONTRACT, Side.SELL, 2, exit_price, 1.30, out, out),
        None,
        Reason("take_profit", "Bid reached the take-profit level."),
    )


def test_entries_exits_and_a_halt_reach_the_endpoint_with_reason_and_pnl(endpoint: Endpoint, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with_params(url)
    journal = _journal(url)
    sender = _sender(endpoint, url)
    relay = AlertRelay(journal.engine, sender.submit)
    _trade(Book(journal), exit_price=1.50)
    set_trading_state(
        journal.engine, TradingState.HALTED, "console:operator", "emergency_stop", "Phone: news at 10:30."
    )
    sent = relay.poll(utcnow())
    assert [a.kind for a in sent] == [AlertKind.ENTRY, AlertKind.EXIT, AlertKind.HALT]
    sender.wait_idle(60)
    assert len(endpoint.bodies) == 1, "a burst is one message"
    body = endpoint.bodies[0]
    assert body["title"].startswith("3 alerts") and body["type"] == "failure"  # the halt is the worst level
    assert "Bought 2 SPY" in body["message"] and "Trend up, RSI 58." in body["message"]
    assert "- 10:30 ET Entry SPY call:" in body["message"], "one clock in a message: market time"
    assert "+$47.40" in body["message"]  # (1.50 - 1.25) x 2 x 100 - 2.60 fees
    assert "take_profit" in body["message"] and "Phone: news at 10:30." in body["message"]
    assert "ET wall clock" in sent[2].body, "the halt was asked on the wall clock, and says so"
    assert relay.poll(utcnow()) == [], "nothing is sent twice"
    restarted = AlertRelay(journal.engine, sender.submit)  # the cursors live in the database
    assert restarted.poll(utcnow()) == []
    sender.close()


def test_a_failed_send_is_an_event_and_is_not_retried(endpoint: Endpoint, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with_params(url)
    journal = _journal(url)
    endpoint.status = 500
    sender = _sender(endpoint, url)
    relay = AlertRelay(journal.engine, sender.submit)
    journal.event("warning", "broker_error", "Broker failure 1 in a row: timeout")
    assert [a.kind for a in relay.poll(utcnow())] == [AlertKind.BROKER_FAILURE]
    sender.wait_idle(60)
    assert len(endpoint.bodies) == 1 and sender.stats.failed == 1
    with create_engine(url).connect() as conn:
        events = conn.execute(text("SELECT code, message FROM event WHERE code = 'alert_failed'")).all()
    assert len(events) == 1 and "Broker error" in events[0][1]
    assert relay.poll(utcnow()) == [], "its own failure event is never relayed"
    time.sleep(0.5)
    assert len(endpoint.bodies) == 1, "no retry"
    sender.close()


def test_submitting_never_waits_for_a_hanging_channel(endpoint: Endpoint, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with_params(url)
    endpoint.release.clear()  # the channel accepts the connection and never answers until released
    sender = _sender(endpoint, url, fold_s=0.0, per_minute=100)
    now = utcnow()
    assert sender.submit(Alert(AlertKind.EXIT, "first", "x", now))
    _wait(endpoint.arrived.is_set, "the first post")  # the sender thread is now stuck in that post
    for i in range(50):
        assert sender.submit(Alert(AlertKind.EXIT, f"more {i}", "x", now)), "queued, not waited for"
    assert len(endpoint.bodies) == 1
    endpoint.release.set()
    sender.wait_idle(60)
    assert len(endpoint.bodies) == 2 and endpoint.bodies[1]["title"].startswith("50 alerts"), "the backlog folded"
    sender.close()


def test_over_the_rate_limit_alerts_fold_into_the_next_message(endpoint: Endpoint, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with_params(url)
    sender = _sender(endpoint, url, fold_s=0.0, per_minute=1)
    sender.budget.window_s = 1.0  # one message a second: the test need not wait a minute
    now = utcnow()
    sender.submit(Alert(AlertKind.ENTRY, "a", "x", now))
    _wait(lambda: len(endpoint.bodies) == 1, "the first message")
    for name in ("b", "c", "d"):
        sender.submit(Alert(AlertKind.EXIT, name, "x", now))
    sender.wait_idle(60)
    assert [b["title"] for b in endpoint.bodies] == ["a", "3 alerts (3 exit)"]
    sender.close()


def test_the_parameter_chooses_the_events(endpoint: Endpoint, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with_params(url, alert_events=["exit"])
    journal = _journal(url)
    sender = _sender(endpoint, url)
    relay = AlertRelay(journal.engine, sender.submit)
    _trade(Book(journal), exit_price=1.00)
    assert [a.kind for a in relay.poll(utcnow())] == [AlertKind.EXIT]
    sender.wait_idle(60)
    assert endpoint.bodies[0]["title"] == "Exit SPY call -$52.60" and endpoint.bodies[0]["type"] == "warning"
    sender.close()


def test_a_stale_heartbeat_and_the_close_are_noticed_by_the_relay(endpoint: Endpoint, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with_params(url)
    journal = _journal(url)
    sender = _sender(endpoint, url)
    relay = AlertRelay(journal.engine, sender.submit, stale_after_s=60)
    _trade(Book(journal), exit_price=1.50)
    relay.poll(utcnow())  # the trade's own alerts
    journal.heartbeat("sim", DAY.close + timedelta(minutes=6), TradingState.ACTIVE, 1.0, utcnow())
    beat_at = utcnow()
    assert [a.kind for a in relay.poll(beat_at + timedelta(seconds=30))] == [AlertKind.DAILY_SUMMARY]
    assert relay.poll(beat_at + timedelta(seconds=40)) == [], "one summary a day"
    stale = relay.poll(beat_at + timedelta(seconds=61))
    assert [a.title for a in stale] == ["Worker silent (sim)"]
    assert relay.poll(beat_at + timedelta(seconds=90)) == [], "said once"
    journal.heartbeat("sim", DAY.close + timedelta(minutes=7), TradingState.ACTIVE, 1.0, utcnow())
    assert [a.title for a in relay.poll(utcnow())] == ["Worker back (sim)"]
    sender.wait_idle(60)
    summary = next(b for b in endpoint.bodies if "Day 2026-02-20" in b["title"] or "Day 2026-02-20" in b["message"])
    assert "1 trades, +$47.40" in summary["title"] + summary["message"]
    sender.close()


def test_channels_come_from_the_environment_and_a_bad_url_is_refused(tmp_path: Path) -> None:
    assert channels_from_env({}) is None
    assert len(channels_from_env({"ALERT_URLS": "json://127.0.0.1:1/a, json://127.0.0.1:2/b"}) or []) == 2
    with pytest.raises(AlertConfigError, match="ALERT_URLS"):
        channels_from_env({"ALERT_URLS": "nosuchscheme://token@host/x"})
    config = tmp_path / "alerts.yml"
    config.write_text("urls:\n  - json://127.0.0.1:3/c\n")
    assert channels_from_env({"ALERT_CONFIG": str(config)}) is not None
    with pytest.raises(AlertConfigError, match="ALERT_CONFIG"):
        channels_from_env({"ALERT_CONFIG": str(tmp_path / "missing.yml")})


def test_a_first_start_begins_at_the_present_not_with_the_history(endpoint: Endpoint, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with_params(url)
    journal = _journal(url)
    _trade(Book(journal), exit_price=1.50)  # closed before the relay ever ran
    sender = _sender(endpoint, url)
    relay = AlertRelay(journal.engine, sender.submit)
    assert relay.poll(utcnow()) == [], "old entries and exits are history, not alerts"
    assert relay.cursors["trades_closed"].endswith("|1")
    sender.close()


@pytest.mark.parametrize("code", ["orphan_leg", "foreign_fill", "option_shares"])
def test_what_the_book_cannot_explain_alone_reaches_the_phone(code: str) -> None:
    alert = event_alert(EventRow(1, utcnow(), "warning", code, f"{code}: details"))
    assert alert is not None and alert.kind is AlertKind.RECONCILE_MISMATCH and alert.level == "warning"
    assert alert.body == f"{code}: details"
