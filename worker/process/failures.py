"""What the worker does when cycles fail: count them, retry the minute, and past the limit
either halt (a fault in the cycle) or stop the process (a database that cannot be written).

The exception's type decides (db/failures.py). A database that cannot take writes cannot record
orders, so nothing can be sent anyway (every order is written before it is sent); once
`limit` cycles in a row have failed on it, the worker stops sending altogether, says why
wherever it still can (the database, else the log and stderr), alerts the operator directly
through apprise (the alert relay reads the same database and may not see anything), and exits
with EXIT_DATABASE so a supervisor restarts it once the fault is gone.
"""

from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass
from datetime import datetime

from core.alerts import Alert, AlertKind
from core.records import DecisionRow
from db.failures import DatabaseFailure
from worker.alerts.sender import AlertConfigError, AlertSender, channels_from_env

log = logging.getLogger("worker.failures")
DEFAULT_MAX_FAILED_CYCLES = 5
EXIT_DATABASE = 4  # the database could not be written: a supervisor restarts the worker
CYCLE_FAILED = "cycle_failed"


@dataclass
class CycleFailures:
    """Failed cycles in a row (any kind); one committed cycle resets the count."""

    limit: int = DEFAULT_MAX_FAILED_CYCLES
    consecutive: int = 0

    def success(self) -> None:
        self.consecutive = 0

    def failed(self) -> int:
        self.consecutive += 1
        return self.consecutive

    @property
    def exhausted(self) -> bool:
        return self.consecutive >= self.limit


def failed_minute_rows(
    now: datetime, symbols: tuple[str, ...] | list[str], text: str, param_version: int, model_version: str
) -> list[DecisionRow]:
    """One decision per symbol for a minute whose cycle failed every retry: a hold, blocked by
    `cycle_failed` with the error, so the (time, symbol) series keeps no hole."""
    nan = math.nan
    return [
        DecisionRow(
            time=now,
            bar_time=None,
            symbol=symbol,
            p_hold=1.0,
            p_buy_call=0.0,
            p_buy_put=0.0,
            p_close=0.0,
            action="hold",
            confidence=0.0,
            final_action="hold",
            blocked_by=CYCLE_FAILED,
            blocked_reason=text[:500],
            exit_code=None,
            regime="unknown",
            vix=nan,
            iv_rank=nan,
            underlying_price=nan,
            rsi_14=None,
            vwap_dist_pct=None,
            trend_pct=None,
            atr_pct=None,
            rv_annual_pct=None,
            volume_z=None,
            param_version=param_version,
            model_version=model_version,
            data_source="none",
            degraded=1,
            latency_ms=0.0,
            order_client_id=None,
        )
        for symbol in symbols
    ]


def database_stop_text(failure: DatabaseFailure, failed: int, mode: str) -> str:
    """The one paragraph the operator reads on the phone, in the log and on stderr."""
    held = (
        "The simulator's positions are restored from the database at the next start."
        if mode == "sim"
        else "Positions at the broker are left as they are: `python -m worker.flatten` closes them."
    )
    written = f"{failed} cycles in a row could not be written" if failed else "it was noticed before the next cycle"
    return (
        f"The worker stopped trading and exited (status {EXIT_DATABASE}): {failure.describe()}; "
        f"{written}. No order is sent without its row, so none was sent "
        f"since. {held} Free the database (space, permissions, the server; put a moved file back), then restart "
        f"the worker: it continues after the last committed minute."
    )


def alert_now(title: str, body: str, at: datetime, timeout_s: float = 15.0) -> bool:
    """Send one alert through apprise from this process (ALERT_URLS / ALERT_CONFIG) and wait
    for it; True when a channel took it. No channel configured: logged only, False."""
    try:
        channels = channels_from_env()
    except AlertConfigError as exc:
        log.error("alert not sent: %s", exc)
        return False
    if channels is None:
        return False
    delivered: list[bool] = [True]

    def failed(alert: Alert, why: str) -> None:
        delivered[0] = False
        log.error("alert not delivered (%s): %s", why, alert.title)

    sender = AlertSender(channels, failed, per_minute=6, fold_s=0.0, timeout_s=timeout_s)
    try:
        sender.submit(Alert(AlertKind.WORKER_ERROR, title, body, at, level="failure"))
        return sender.wait_idle(timeout_s + 5.0) and delivered[0] and sender.stats.sent > 0
    finally:
        sender.close(5.0)


def say_on_stderr(text: str) -> None:
    """The last resort when nothing can be written to the database: one line on stderr."""
    print(f"worker: {text}", file=sys.stderr, flush=True)
