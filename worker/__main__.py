"""`python -m worker`: the trading worker under APScheduler.

Jobs: the trading cycle (sim: one bar per tick, `--speed` times faster than real time; paper
and live: one cycle per new minute of the broker's clock), the 1-second control tick that
carries out the trading state, the heartbeat, and with a real broker the reconciliation
(at start and every few minutes). SIGTERM and SIGINT stop it cleanly: the running cycle
finishes, buffers are written, and the heartbeat records the stop.

Error policy: a cycle that fails at the broker counts towards REDUCING and then HALTED
(worker/health.py); any other cycle error is logged as an event, and five in a row halt.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from datetime import UTC, date, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from core.calendar import last_sessions
from core.types import TradingState
from db.control import set_trading_state, utcnow
from db.models import WorkerStatus
from worker.alpaca_http import BrokerUnavailableError, SettingsError
from worker.clock import BrokerClock, SimClock
from worker.health import BrokerHealth
from worker.reconcile import Reconciler
from worker.runtime import Runtime, add_run_arguments, build_runtime, options_from_args, restore_simulated_account

log = logging.getLogger("worker")
LEASE_SECONDS = 15
MAX_CONSECUTIVE_FAILURES = 5


class LeaseHeldError(RuntimeError):
    """Another worker is alive on this database."""


class Worker:
    """The long-running process: a sim clock, the cycle, the control tick and the heartbeat."""

    def __init__(
        self,
        rt: Runtime,
        clock: SimClock | BrokerClock,
        period_s: float,
        reconciler: Reconciler | None = None,
        reconcile_minutes: float = 3.0,
    ) -> None:
        self.rt = rt
        self.clock = clock
        self.period_s = period_s
        self.reconciler = reconciler
        self.reconcile_minutes = reconcile_minutes
        self.health = BrokerHealth(rt.journal)
        self.started_at = utcnow()
        self.failures = 0
        self.cycle_seen = time.monotonic()  # when the cycle job last started (the watchdog reads it)
        self.cycle_job_id = "cycle"
        self.stopping = threading.Event()
        self.scheduler = BackgroundScheduler(timezone=UTC)

    # ---- jobs -----------------------------------------------------------------------------
    def cycle_job(self) -> None:
        self.cycle_seen = time.monotonic()
        try:
            now = self.clock.advance()
        except BrokerUnavailableError as exc:
            self.health.failure(str(exc), utcnow())
            return
        if now is None:
            if self.clock.finite:
                log.info("replay data exhausted; stopping")
                self.stopping.set()
            return
        errors_before = self.rt.cycle.broker_errors
        try:
            self.rt.cycle.run(now)
            self.failures = 0
            if self.rt.cycle.broker_errors > errors_before:
                self.health.failure("an order submit failed", now)
            else:
                self.health.success()
        except BrokerUnavailableError as exc:
            log.warning("cycle at %s: broker unavailable: %s", now, exc)
            self.health.failure(str(exc), now)
        except Exception as exc:
            self.failures += 1
            log.exception("cycle failed at %s", now)
            self.rt.journal.event("error", "cycle_failed", f"Cycle at {now.isoformat()} failed: {exc!r}")
            if self.failures >= MAX_CONSECUTIVE_FAILURES:
                set_trading_state(
                    self.rt.engine,
                    TradingState.HALTED,
                    "worker",
                    "worker_errors",
                    f"{self.failures} consecutive cycle failures; last: {exc!r}",
                    flatten=True,
                )

    def control_job(self) -> None:
        try:
            summary = self.rt.control.tick(self.clock.now)
            if summary:
                log.warning("halt applied: %s", summary)
        except Exception:
            log.exception("control tick failed")

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
        self.rt.journal.heartbeat(
            self.rt.options.mode,
            self.clock.now,
            self.rt.cycle.last_state,
            self.rt.cycle.last_latency_ms,
            self.started_at,
            stopped=stopped,
        )

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self.heartbeat_job()
        self._add_cycle_job()
        self.scheduler.add_job(self.watchdog, "interval", seconds=5, id="watchdog", max_instances=1, coalesce=True)
        self.scheduler.add_job(self.control_job, "interval", seconds=1, id="control", max_instances=1, coalesce=True)
        self.scheduler.add_job(
            self.heartbeat_job, "interval", seconds=5, id="heartbeat", max_instances=1, coalesce=True
        )
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
        self.scheduler.shutdown(wait=True)
        self.rt.journal.flush()
        self.heartbeat_job(stopped=True)
        log.info("worker stopped cleanly")


def check_lease(rt: Runtime) -> None:
    """Refuse to start while another worker's heartbeat on this database is fresh."""
    with rt.engine.connect() as conn:
        row = conn.execute(select(WorkerStatus).where(WorkerStatus.id == "worker")).mappings().first()
    if row is None or row["stopped"]:
        return
    age = (utcnow() - row["heartbeat_at"]).total_seconds()
    if age < LEASE_SECONDS:
        raise LeaseHeldError(
            f"another worker (pid {row['pid']} on {row['host']}) sent a heartbeat {age:.0f} s ago; "
            "exactly one worker may run per database"
        )


def resume_clock(rt: Runtime, start: date | None) -> SimClock:
    """Continue from the last simulated time in the database, else start at a session open."""
    with rt.engine.connect() as conn:
        last = conn.execute(select(WorkerStatus.sim_time).where(WorkerStatus.id == "worker")).scalar()
    if last is not None and start is None:
        return SimClock(last, rt.next_session_after)
    if start is None:
        start = last_sessions(date.today() - timedelta(days=1), 30)[0].day
    return SimClock.at_session_start(start, rt.next_session_after)


def real_broker_worker(rt: Runtime, args: argparse.Namespace) -> Worker:
    """Paper or live: the broker's clock, open trades reloaded, and a reconciliation before any cycle."""
    assert rt.clients is not None
    trading = rt.clients.trading

    def read_clock() -> tuple[datetime, bool]:
        try:
            c = trading.get_clock()
        except Exception as exc:
            raise BrokerUnavailableError(f"get_clock: {exc}") from exc
        return c.timestamp, bool(c.is_open)

    clock = BrokerClock(read_clock, args.settle_seconds)
    rt.cycle.book.restore()
    worker = Worker(rt, clock, args.poll_seconds, Reconciler(rt.cycle), args.reconcile_minutes)
    try:
        clock.now = read_clock()[0]
    except BrokerUnavailableError as exc:
        log.warning("%s", exc)
    worker.reconcile_job()
    return worker


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="sim", choices=["sim", "paper", "live"])
    parser.add_argument("--speed", type=float, default=60.0, help="sim only: simulated minutes per real minute")
    parser.add_argument("--start", type=date.fromisoformat, help="sim only: first session (default: resume)")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="paper/live: how often the clock is read")
    parser.add_argument("--settle-seconds", type=float, default=2.0, help="paper/live: wait after a minute closes")
    parser.add_argument("--reconcile-minutes", type=float, default=3.0, help="paper/live: reconciliation period")
    add_run_arguments(parser, default_db=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    options = options_from_args(args, mode=args.mode)
    try:
        rt = build_runtime(options, "worker")
        check_lease(rt)
    except (ValueError, LeaseHeldError, SettingsError) as exc:
        raise SystemExit(f"worker refused to start: {exc}") from None
    if rt.clients is None:
        restore_simulated_account(rt)
        worker = Worker(rt, resume_clock(rt, args.start), 60.0 / args.speed)
    else:
        worker = real_broker_worker(rt, args)
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stopping.set())
    worker.start()
    worker.stopping.wait()
    worker.stop()


if __name__ == "__main__":
    main()
