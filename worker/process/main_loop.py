"""The worker's main loop (`python -m worker`, worker/__main__.py): the clock's jobs under
APScheduler (one cycle per tick, the control tick, the heartbeat, reconciliation with a real
broker), what a failed cycle or tick leads to (worker/process/failures.py), the watchdog that
restarts a stalled cycle job, and the clean stop."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, date, datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from core.calendar import NY, cycle_minutes_between
from core.types import Reason, TradingState
from db.control import EventNote, set_trading_state, utcnow
from db.failures import DatabaseFailure, database_failure
from db.file_watch import SqliteFileWatch
from db.lease import LeaseLostError, last_cycle_time
from worker.adapters.alpaca_http import BrokerUnavailableError
from worker.book.reconcile import Reconciler
from worker.process.after_close import AfterClose
from worker.process.clock import BrokerClock, SimClock
from worker.process.failure_log import FailureLog
from worker.process.failures import (
    CYCLE_FAILED,
    DEFAULT_MAX_FAILED_CYCLES,
    EXIT_DATABASE,
    CycleFailures,
    alert_now,
    database_stop_text,
    failed_minute_rows,
    say_on_stderr,
)
from worker.process.go_live import LiveGuard
from worker.process.health import BrokerHealth
from worker.runtime import (
    Runtime,
    settle_simulated_orders,
)

log = logging.getLogger("worker")
EXIT_LEASE_LOST = 3


class Worker:
    """The long-running process: a sim clock, the cycle, the control tick and the heartbeat."""

    def __init__(
        self,
        rt: Runtime,
        clock: SimClock | BrokerClock,
        period_s: float,
        reconciler: Reconciler | None = None,
        reconcile_minutes: float = 3.0,
        stopping: threading.Event | None = None,
        max_failed_cycles: int = DEFAULT_MAX_FAILED_CYCLES,
    ) -> None:
        self.rt = rt
        self.clock = clock
        self.period_s = period_s
        self.reconciler = reconciler
        self.reconcile_minutes = reconcile_minutes
        self.health = BrokerHealth(rt.journal)
        self.started_at = utcnow()
        self.failures = CycleFailures(max_failed_cycles)
        self.failure_log = FailureLog(log)
        self.exit_status = 0
        self.database_down: DatabaseFailure | None = None
        # SQLite: the file deleted or moved under the worker is noticed each cycle and control tick
        # (and by the desk before each order), never written into unseen
        self.file_watch = SqliteFileWatch.of(rt.engine)
        if self.file_watch is not None:
            rt.cycle.desk.storage_gone = self.file_watch.problem
        # paper and live: the last committed cycle, so minutes the broker's clock ran on without
        # a cycle are recorded (`worker_gap`); sim never skips a minute (it retries it)
        self.gap_watch = isinstance(clock, BrokerClock)
        self.last_cycle: datetime | None = last_cycle_time(rt.engine) if self.gap_watch else None
        self.cycle_seen = time.monotonic()  # when the cycle job last started (the watchdog reads it)
        self.cycle_job_id = "cycle"
        self.stopping = stopping or threading.Event()
        self.lease_lost = False
        self.live_guard: LiveGuard | None = None  # live: the go-live gate's override and its sessions
        self.live_day: date | None = None
        self.return_to_paper = False
        lease = rt.journal.lease
        # renewed three times per lease period at least, so a live worker never looks dead
        self.heartbeat_s = min(5.0, lease.period_s / 3.0) if lease is not None else 5.0
        self.scheduler = BackgroundScheduler(timezone=UTC)
        url = rt.engine.url.render_as_string(hide_password=False)
        # a recording worker reports each closed day's parity
        self.after_close = (
            AfterClose(rt.engine, url, rt.journal.event, rt.options.model) if rt.cycle.recorder is not None else None
        )

    # ---- jobs -----------------------------------------------------------------------------
    def cycle_job(self) -> None:
        self.cycle_seen = time.monotonic()
        if self.stopping.is_set() or self.database_file_gone():
            return
        try:
            now = self.clock.advance()
        except BrokerUnavailableError as exc:
            self.broker_failure(str(exc), utcnow())
            return
        if now is None:
            if self.clock.finite:
                log.info("replay data exhausted; stopping")
                self.stopping.set()
            return
        if self.live_guard is not None and not self.live_session(now):
            return
        errors_before = self.rt.cycle.broker_errors
        try:
            self.rt.cycle.run(now)
        except LeaseLostError as exc:
            self.on_lease_lost(exc)
            return
        except BrokerUnavailableError as exc:
            log.warning("cycle at %s: broker unavailable: %s", now, exc)
            self.broker_failure(str(exc), now)
            return
        except Exception as exc:
            self.on_cycle_failure(now, exc)
            return
        self.clock.commit()
        self.failures.success()
        self.failure_log.clear(CYCLE_FAILED)
        self.note_gap(now)
        if self.rt.cycle.broker_errors > errors_before:
            self.broker_failure("an order submit failed", now)
        else:
            self.health.success()

    def live_session(self, now: datetime) -> bool:
        """Live: a new session counts against a go-live override; False (and the worker stops, to
        restart on paper) when the override ran out without the gate being met, or when the gate
        refused a version or override change during the last session (LiveGuard.check)."""
        guard = self.live_guard
        assert guard is not None
        day = now.astimezone(NY).date()
        if day != self.live_day:
            self.live_day = day
            if not guard.on_session(day):
                self.return_to_paper = True
                self.stopping.set()
                return False
            self.rt.cycle.size_cap = guard.size_cap
        return True

    def broker_failure(self, what: str, now: datetime) -> None:
        try:
            self.health.failure(what, now)
        except Exception as exc:  # the event could not be written either
            self.failure_log.report("broker_failure", f"broker failure not recorded: {exc!r}")

    def on_cycle_failure(self, now: datetime, exc: Exception) -> None:
        """Roll the cycle back and retry its minute; past the limit, halt (a fault in the cycle)
        or stop the worker (the database cannot be written)."""
        self.rt.cycle.rollback()
        self.clock.rewind()
        failed = self.failures.failed()
        failure = database_failure(exc)
        what = failure.describe() if failure else repr(exc)
        kind = f"{CYCLE_FAILED}:{failure.kind if failure else type(exc).__name__}"
        self.failure_log.report(kind, f"cycle at {now.isoformat()} failed ({failed} in a row): {what}", exc)
        if failure is not None:
            if self.failures.exhausted:
                self.stop_for_database(failure)
            return
        try:
            self.rt.journal.event("error", CYCLE_FAILED, f"Cycle at {now.isoformat()} failed: {exc!r}")
            if self.failures.exhausted:
                self.halt_and_skip(now, exc)
        except Exception as write_exc:
            self.rt.cycle.rollback()
            self.clock.rewind()
            failure = database_failure(write_exc)
            self.failure_log.report(f"{CYCLE_FAILED}:record", f"a failed cycle could not be recorded: {write_exc!r}")
            if failure is not None and self.failures.exhausted:
                self.stop_for_database(failure)

    def halt_and_skip(self, now: datetime, exc: Exception) -> None:
        """A fault in the cycle (not the database) at every retry: halt with flatten, record the
        minute as `cycle_failed` decisions (no hole) and move on."""
        text = f"{self.failures.consecutive} consecutive cycle failures; last: {exc!r}"
        set_trading_state(
            self.rt.engine,
            TradingState.HALTED,
            "worker",
            "worker_errors",
            text,
            flatten=True,
            note=EventNote("error", "worker_errors", text, self.rt.journal.run_id),
        )
        control, _ = self.rt.journal.read_control()
        for row in failed_minute_rows(
            now, self.rt.market.symbols, text, control.param_version, self.rt.cycle.policy.version
        ):
            self.rt.journal.add_decision(row)
        self.rt.journal.end_cycle(now)
        if isinstance(self.clock, SimClock):  # the minute is recorded: the clock moves past it
            self.clock.now = now
        self.clock.commit()
        self.failures.success()

    def stop_for_database(self, failure: DatabaseFailure) -> None:
        """Stop sending at once, say why wherever it can be said, alert, and stop the process."""
        if self.database_down is not None:
            return
        self.database_down = failure
        text = database_stop_text(failure, self.failures.consecutive, self.rt.options.mode)
        self.rt.cycle.desk.frozen = Reason("database_unavailable", text)
        self.exit_status = EXIT_DATABASE
        log.critical("%s", text)
        say_on_stderr(text)
        try:
            self.rt.journal.event("error", "database_unavailable", text)
        except Exception as exc:
            log.error("the stop could not be recorded in the database either (%s): see this log", exc)
        delivered = alert_now("Worker stopped: database unavailable", text, utcnow())
        log.info("database alert %s", "delivered" if delivered else "not delivered (no channel took it)")
        self.stopping.set()

    def note_gap(self, now: datetime) -> None:
        """Paper and live: market minutes between the last committed cycle and this one had no
        cycle (the worker was down or failing); record the interval as a `worker_gap` event."""
        if not self.gap_watch:
            return
        last, self.last_cycle = self.last_cycle, now
        if last is None:
            return
        missed = cycle_minutes_between(last, now)
        if missed.count and missed.first is not None and missed.last is not None:
            first, end = missed.first.astimezone(NY), missed.last.astimezone(NY)
            text = (
                f"No cycle ran for {missed.count} market minutes, {first:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} ET: "
                "the broker's clock ran on while the worker could not work."
            )
            log.warning("%s", text)
            self.rt.journal.event("warning", "worker_gap", text, time=now)

    def database_file_gone(self) -> bool:
        """The SQLite file deleted or moved: stop as on a full disk (exit 4); True once stopping."""
        if self.database_down is not None:
            return True
        failure = self.file_watch.problem() if self.file_watch is not None else None
        if failure is None:
            return False
        self.stop_for_database(failure)
        return True

    def control_job(self) -> None:
        if self.database_file_gone():
            return
        try:
            summary = self.rt.control.tick(self.clock.now)
            if summary:
                log.warning("halt applied: %s", summary)
        except LeaseLostError as exc:
            self.on_lease_lost(exc)
        except Exception as exc:
            failure = database_failure(exc)
            if failure is not None:
                self.rt.journal.discard_pending()
            kind = f"control:{failure.kind if failure else type(exc).__name__}"
            self.failure_log.report(kind, f"control tick failed: {failure.describe() if failure else repr(exc)}", exc)

    def on_lease_lost(self, exc: LeaseLostError) -> None:
        """Another worker holds the lease now: send nothing more, say why, stop."""
        if self.lease_lost:
            return
        self.lease_lost = True
        log.error("%s: stopping without sending anything more", exc)
        self.rt.journal.event("error", "lease_lost", f"{exc}. This worker stopped and sent nothing more.")
        self.stopping.set()

    def reconcile_job(self) -> None:
        if self.reconciler is None:
            return
        report = self.reconciler.run(self.clock.now or utcnow())
        log.info(
            "reconciled: %d orders checked, %d fills imported, %s",
            report.checked_orders,
            report.imported_fills,
            "clean" if report.clean else f"{len(report.problems)} problems",
        )

    def after_close_job(self) -> None:
        if self.after_close is None:
            return
        try:
            self.after_close.check(self.clock.now)
        except Exception:
            log.exception("after-close job failed")

    def watchdog(self) -> None:
        """Restart the cycle job if the scheduler stopped running it (it has been seen to keep a
        finished run counted as running, skipping every later tick as 'max instances')."""
        quiet = time.monotonic() - self.cycle_seen
        if quiet < max(30.0, 20 * self.period_s) or self.stopping.is_set():
            return
        self.rt.journal.event("error", "cycle_stalled", f"No cycle started for {quiet:.0f} s; restarting the job.")
        log.error("no cycle started for %.0f s; restarting the cycle job", quiet)
        self.scheduler.remove_job(self.cycle_job_id)
        self.cycle_job_id = f"cycle-{int(time.monotonic())}"
        self._add_cycle_job()
        self.cycle_seen = time.monotonic()

    def _add_cycle_job(self) -> None:
        self.scheduler.add_job(
            self.cycle_job,
            "interval",
            seconds=self.period_s,
            id=self.cycle_job_id,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )

    def heartbeat_job(self, stopped: bool = False) -> None:
        if self.lease_lost:
            return
        try:
            self.rt.journal.heartbeat(
                self.rt.options.mode,
                self.clock.now,
                self.rt.cycle.last_state,
                self.rt.cycle.last_latency_ms,
                self.started_at,
                stopped=stopped,
            )
        except LeaseLostError as exc:
            self.on_lease_lost(exc)
        except Exception as exc:
            failure = database_failure(exc)
            if failure is None:
                raise
            self.failure_log.report(f"heartbeat:{failure.kind}", f"heartbeat not written: {failure.describe()}")

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self.heartbeat_job()
        self._add_cycle_job()
        self.scheduler.add_job(self.watchdog, "interval", seconds=5, id="watchdog", max_instances=1, coalesce=True)
        self.scheduler.add_job(self.control_job, "interval", seconds=1, id="control", max_instances=1, coalesce=True)
        self.scheduler.add_job(
            self.heartbeat_job, "interval", seconds=self.heartbeat_s, id="heartbeat", max_instances=1, coalesce=True
        )
        if self.after_close is not None:
            self.scheduler.add_job(self.after_close_job, "interval", seconds=10, id="after_close", max_instances=1)
        if self.reconciler is not None:
            self.scheduler.add_job(
                self.reconcile_job, "interval", minutes=self.reconcile_minutes, id="reconcile", max_instances=1
            )
        self.scheduler.add_listener(self._on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)
        self.scheduler.start()
        log.info(
            "worker %s started: mode %s, source %s, a cycle check every %.2f s, clock %s",
            self.rt.journal.run_id,
            self.rt.options.mode,
            self.rt.options.source,
            self.period_s,
            self.clock.now.isoformat() if self.clock.now else "unknown",
        )

    def _on_job_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            log.warning("job %s skipped a tick: the previous run is still going", event.job_id)

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self.after_close is not None:
            self.after_close.stop()
        if self.lease_lost:
            log.error("worker stopped: lease lost")
            return
        if self.database_down is not None:
            log.error("worker stopped: the database cannot be written (exit status %d)", self.exit_status)
            return
        try:
            self.rt.journal.flush()
            if self.rt.clients is None:  # the simulator's working orders end with this process
                settle_simulated_orders(self.rt, "the worker stopped: its simulator's working orders end with it")
        except LeaseLostError as exc:
            self.on_lease_lost(exc)
            return
        except Exception as exc:
            failure = database_failure(exc)
            if failure is None:
                raise
            log.error("worker stopped without its last rows: %s", failure.describe())
            self.exit_status = EXIT_DATABASE
            return
        self.heartbeat_job(stopped=True)  # releases the lease: a successor may start at once
        log.info("worker stopped cleanly")
