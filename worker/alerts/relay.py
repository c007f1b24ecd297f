"""The alert relay: reads what the worker (and the console) wrote and tells the operator.

It runs beside the worker as its own process (`python -m worker.alerts`), so it also notices
when the worker itself stops beating. Each poll reads the rows newer than its cursors (events,
trading-state changes, trades opened and closed), the heartbeat, and the worker's clock for the
daily summary; turns them into alerts of the kinds `alert_events` selects (the active parameter
version, read every poll: a change in the console applies at once); submits them to the sender
(which never blocks); and stores the cursors, so a restarted relay neither repeats nor skips.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from core.alerts import Alert, AlertKind, money
from core.calendar import NY, last_sessions, latest_closed, session_for
from core.params import TradingParams
from db import alert_reads as reads
from db.alert_reads import BlockCount, EventRow, Heartbeat, StateChange, TradeRow
from db.control import read_control
from db.go_live import current_model_version, gate_report
from db.models import ControlState, ParamVersion

log = logging.getLogger("worker.alerts")
SUMMARY_GRACE = timedelta(minutes=5)  # after the close, as the worker's own after-close jobs

# event codes -> the alert kind they are; None: said by the state change they come with
EVENT_KINDS: dict[str, AlertKind | None] = {
    "halt_applied": AlertKind.STOP_DONE,
    "stop_incomplete": AlertKind.STOP_INCOMPLETE,
    "stop_failed": AlertKind.STOP_INCOMPLETE,
    "console_broker_stop": AlertKind.STOP_INCOMPLETE,
    "broker_error": AlertKind.BROKER_FAILURE,
    "order_sync_failed": AlertKind.BROKER_FAILURE,  # one order the broker sync could not read or book
    "broker_errors": None,
    "broker_refusals": None,
    "orphan_leg": AlertKind.RECONCILE_MISMATCH,  # a structure's leg left alone by the broker: being closed
    "foreign_fill": AlertKind.RECONCILE_MISMATCH,  # a fill on a contract the worker holds no trade in
    "option_shares": AlertKind.RECONCILE_MISMATCH,  # shares from an exercise or assignment: flatten them
    "worker_errors": None,
    "reconcile_mismatch": AlertKind.RECONCILE_MISMATCH,
    "cycle_failed": AlertKind.WORKER_ERROR,
    "cycle_stalled": AlertKind.WORKER_ERROR,
    "lease_lost": AlertKind.WORKER_ERROR,
    "model_refused": AlertKind.WORKER_ERROR,
    "parity_failed": AlertKind.WORKER_ERROR,
    "live_override": AlertKind.GO_LIVE,
    "go_live_gate": AlertKind.GO_LIVE,  # live trading on versions the gate refused: no entries, paper next
}
_LEVELS = {"error": "failure", "warning": "warning", "info": "info"}


def et(moment: datetime, clock: str = "") -> str:
    """A time as the alerts say it: New York time, and which clock when it matters."""
    return f"{moment.astimezone(NY):%H:%M} ET" + (f" {clock}" if clock else "")


WALL = "wall clock"
SIMULATED = "simulated"


def right(direction: int) -> str:
    return "call" if direction > 0 else "put"


def what(t: TradeRow) -> str:
    """A single option's right, or the structure's kind (an iron condor, a credit spread)."""
    return right(t.direction) if single(t) else t.structure.replace("_", " ")


def single(t: TradeRow) -> bool:
    return t.structure in ("long_call", "long_put")


def entry_alert(t: TradeRow, clock: str = "") -> Alert:
    opened = f"Bought {t.entry_qty} {t.contract}" if single(t) else f"Opened {t.entry_qty} {what(t)} ({t.contract} ...)"
    return Alert(
        AlertKind.ENTRY,
        f"Entry {t.underlying} {what(t)}",
        f"{opened} at {t.entry_avg:.2f} ({et(t.entry_time, clock)}, confidence {t.confidence:.2f}): {t.entry_reason}",
        t.entry_time,
    )


def exit_alert(t: TradeRow, clock: str = "") -> Alert:
    exit_time = t.exit_time or t.entry_time
    held = (exit_time - t.entry_time).total_seconds() / 60.0
    closed = f"Sold {t.contract}" if single(t) else f"Closed {what(t)}"
    return Alert(
        AlertKind.EXIT,
        f"Exit {t.underlying} {what(t)} {money(t.realized_pnl)}",
        f"{closed} at {t.exit_avg or 0.0:.2f} ({et(exit_time, clock)}, held {held:.0f} min, "
        f"entry {t.entry_avg:.2f}): {t.exit_reason or ''} [{t.exit_reason_code}]; P&L {money(t.realized_pnl)}",
        exit_time,
        "success" if t.realized_pnl >= 0 else "warning",
    )


def state_alert(c: StateChange) -> Alert:
    resumed = c.to_state == "ACTIVE"
    return Alert(
        AlertKind.RESUME if resumed else AlertKind.HALT,
        f"{c.to_state} (was {c.from_state}) by {c.who}",
        f"{c.reason} [{c.reason_code}] at {et(c.at, WALL)}",
        c.at,
        "info" if resumed else ("failure" if c.to_state == "HALTED" else "warning"),
    )


def event_alert(e: EventRow) -> Alert | None:
    kind = EVENT_KINDS.get(e.code, AlertKind.WORKER_ERROR if e.level == "error" else None)
    if kind is None:
        return None
    title = {AlertKind.STOP_DONE: "Stop carried out"}.get(kind, e.code.replace("_", " ").capitalize())
    return Alert(kind, title, e.message, e.time, "success" if kind is AlertKind.STOP_DONE else _LEVELS[e.level])


def summary_alert(
    day: str, trades: list[TradeRow], blocks: list[BlockCount], state: str, at: datetime, gate: str = ""
) -> Alert:
    pnl = sum(t.realized_pnl for t in trades)
    blocked = ("Entries blocked most by " + ", ".join(f"{b.code} ({b.count})" for b in blocks) + ". ") if blocks else ""
    gate_text = f" Go-live: {gate}." if gate else ""
    if not trades:
        text = f"{blocked}Trading state {state}.{gate_text}"
        return Alert(AlertKind.DAILY_SUMMARY, f"Day {day}: no trades", text, at)
    wins = sum(1 for t in trades if t.realized_pnl > 0)
    best, worst = max(t.realized_pnl for t in trades), min(t.realized_pnl for t in trades)
    return Alert(
        AlertKind.DAILY_SUMMARY,
        f"Day {day}: {len(trades)} trades, {money(pnl)}",
        f"Won {wins} of {len(trades)} ({wins / len(trades) * 100:.0f}%), P&L {money(pnl)}, best {money(best)}, "
        f"worst {money(worst)}. {blocked}Trading state {state}.{gate_text}",
        at,
        "success" if pnl >= 0 else "warning",
    )


@dataclass
class AlertRelay:
    engine: Engine
    submit: Callable[[Alert], bool]  # the sender's: queues and returns at once
    stale_after_s: float = 60.0
    cursors: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cursors = reads.read_cursors(self.engine)
        if not self.cursors:  # a first start begins now: no flood of old history
            self.cursors = {k: str(v) for k, v in reads.latest_ids(self.engine).items()}
            newest = reads.newest_closed_trade(self.engine)
            self.cursors["trades_closed"] = "" if newest is None else _closed_key(newest)
            reads.write_cursors(self.engine, self.cursors)

    def selected(self) -> frozenset[AlertKind]:
        """The kinds `alert_events` chooses now (none before the worker has set the database up)."""
        with Session(self.engine) as s:
            if s.get(ControlState, 1) is None:
                return frozenset()
            version = read_control(s).param_version
            row = s.get(ParamVersion, version)
        params = TradingParams.model_validate(row.values if row is not None else {})
        return frozenset(params.alert_events)

    def poll(self, now: datetime | None = None) -> list[Alert]:
        """One pass; returns the alerts submitted (in order)."""
        now = now or datetime.now(UTC)
        wanted = self.selected()
        before = dict(self.cursors)
        found: list[Alert] = []
        for c in reads.state_changes_after(self.engine, int(self.cursors.get("state_changes", "0"))):
            found.append(state_alert(c))
            self.cursors["state_changes"] = str(c.id)
        for e in reads.events_after(self.engine, int(self.cursors.get("events", "0"))):
            alert = event_alert(e)
            if alert is not None:
                found.append(alert)
            self.cursors["events"] = str(e.id)
        beat = reads.heartbeat(self.engine)
        trade_clock = SIMULATED if beat is not None and beat.mode == "sim" else ""  # trades: the worker's clock
        for t in reads.trades_opened_after(self.engine, int(self.cursors.get("trades_opened", "0"))):
            found.append(entry_alert(t, trade_clock))
            self.cursors["trades_opened"] = str(t.id)
        for t in reads.trades_closed_after(self.engine, _parse_closed(self.cursors.get("trades_closed", ""))):
            found.append(exit_alert(t, trade_clock))
            self.cursors["trades_closed"] = _closed_key(t)
        found += self._heartbeat(now, beat)
        found += self._summary(beat)
        found.sort(key=lambda a: a.at)
        sent = [a for a in found if a.kind in wanted]
        for alert in sent:
            self.submit(alert)
        if self.cursors != before:
            reads.write_cursors(self.engine, {k: v for k, v in self.cursors.items() if before.get(k) != v})
        return sent

    def _heartbeat(self, now: datetime, beat: Heartbeat | None) -> list[Alert]:
        if beat is None or beat.stopped:
            self.cursors["stale"] = ""  # a clean stop is not a dead worker
            return []
        age = (now - beat.heartbeat_at).total_seconds()
        was_stale = self.cursors.get("stale", "") != ""
        if age > self.stale_after_s and not was_stale:
            self.cursors["stale"] = beat.heartbeat_at.isoformat()
            text = f"No heartbeat for {age:.0f} s (last {et(beat.heartbeat_at, WALL)}); the worker may be down."
            return [Alert(AlertKind.WORKER_STALE, f"Worker silent ({beat.mode})", text, now, "failure")]
        if age <= self.stale_after_s and was_stale:
            self.cursors["stale"] = ""
            text = f"The worker's heartbeat is back ({et(beat.heartbeat_at, WALL)})."
            return [Alert(AlertKind.WORKER_STALE, f"Worker back ({beat.mode})", text, now, "success")]
        return []

    def _summary(self, beat: Heartbeat | None) -> list[Alert]:
        if beat is None or beat.market_time is None:
            return []  # no worker clock yet
        clock = beat.market_time
        session = latest_closed(clock, SUMMARY_GRACE)
        day = session.day
        if not self.cursors.get("summary_day"):  # the first clock seen: from today's close on
            today = session_for(clock.astimezone(NY).date())
            after_close = today is not None and today.day == day
            self.cursors["summary_day"] = str(last_sessions(day - timedelta(days=1), 1)[0].day if after_close else day)
        if self.cursors["summary_day"] >= str(day):
            return []
        self.cursors["summary_day"] = str(day)
        with Session(self.engine) as s:
            state = read_control(s).state.value
        trades = reads.closed_between(self.engine, session.open, session.close + SUMMARY_GRACE)
        blocks = reads.blocks_between(self.engine, session.open, session.close)
        return [summary_alert(str(day), trades, blocks, state, clock, gate_status(self.engine))]


def gate_status(engine: Engine) -> str:
    """The go-live gate for the versions the worker runs now, in a sentence (db/go_live.py)."""
    model = current_model_version(engine)
    if model is None:
        return ""
    report, _ = gate_report(engine, model)
    failing = len(report.failing)
    return report.summary() if report.passed else f"gate not met, {failing} of {len(report.criteria)} criteria fail"


def _closed_key(t: TradeRow) -> str:
    assert t.exit_time is not None
    return f"{t.exit_time.astimezone(UTC).isoformat()}|{t.id}"


def _parse_closed(value: str) -> tuple[datetime, int] | None:
    if not value:
        return None
    stamp, _, trade_id = value.partition("|")
    return datetime.fromisoformat(stamp), int(trade_id)
