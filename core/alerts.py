"""Alerts to the operator: what they are, how a burst folds into one message, how many may go out.

Pure logic, no transport: the relay (worker/alerts/relay.py) turns the journal's rows into
`Alert`s, the sender (worker/alerts/sender.py) folds and sends them through apprise. The kinds
are what the operator can choose from (`alert_events` in core/params.py).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.calendar import NY


class AlertKind(StrEnum):
    """Something the operator may want on the phone."""

    ENTRY = "entry"  # a position opened
    EXIT = "exit"  # a position closed, with its reason and P&L
    HALT = "halt"  # the trading state left ACTIVE (REDUCING or HALTED), with who and why
    RESUME = "resume"  # back to ACTIVE
    STOP_DONE = "stop_done"  # the worker confirmed a stop: flat, nothing working
    STOP_INCOMPLETE = "stop_incomplete"  # a stop could not be completed (positions or orders left)
    BROKER_FAILURE = "broker_failure"  # failures talking to the broker
    RECONCILE_MISMATCH = "reconcile_mismatch"  # the database and the broker disagree
    WORKER_ERROR = "worker_error"  # failed cycles, a stalled cycle job, a lost lease, a refused model
    WORKER_STALE = "worker_stale"  # the heartbeat went stale (and when it comes back)
    DAILY_SUMMARY = "daily_summary"  # after each close: trades, win rate, P&L, the go-live gate
    GO_LIVE = "go_live"  # a go-live override granted, expired, revoked or ended by the gate met


ALL_KINDS: tuple[AlertKind, ...] = tuple(AlertKind)
URGENT = frozenset({AlertKind.STOP_INCOMPLETE, AlertKind.RECONCILE_MISMATCH, AlertKind.WORKER_STALE})


@dataclass(frozen=True)
class Alert:
    """One thing to tell; `level` is apprise's notify type (info, success, warning, failure)."""

    kind: AlertKind
    title: str
    body: str
    at: datetime
    level: str = "info"


_LEVEL_ORDER = {"info": 0, "success": 1, "warning": 2, "failure": 3}


def fold(alerts: list[Alert]) -> Alert:
    """A burst as one message: the worst level, a title that counts the kinds, one line each."""
    if len(alerts) == 1:
        return alerts[0]
    counts = Counter(a.kind for a in alerts)
    worst = max(alerts, key=lambda a: _LEVEL_ORDER.get(a.level, 0))
    kinds = ", ".join(f"{n} {kind.value.replace('_', ' ')}" for kind, n in counts.most_common())
    lines = [f"- {a.at.astimezone(NY):%H:%M} ET {a.title}: {a.body}" for a in alerts]
    return Alert(worst.kind, f"{len(alerts)} alerts ({kinds})", "\n".join(lines), alerts[-1].at, worst.level)


class SendBudget:
    """At most `limit` messages in any `window_s` seconds (a sliding window over send times)."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1 message per window, got {limit}")
        self.limit = limit
        self.window_s = window_s
        self._sent: deque[float] = deque()

    def wait_s(self, now: float) -> float:
        """Seconds until a message may go out (0: now)."""
        while self._sent and now - self._sent[0] >= self.window_s:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return self._sent[0] + self.window_s - now

    def spend(self, now: float) -> None:
        self._sent.append(now)


def money(value: float) -> str:
    """Signed dollars for a message: +$12.50, -$3.00."""
    return f"{'+' if value >= 0 else '-'}${abs(value):,.2f}"
