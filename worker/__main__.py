"""`python -m worker`: the trading worker under APScheduler.

Jobs: the trading cycle (one bar per tick; in sim mode the clock runs `--speed` times faster
than real time), the 1-second control tick that carries out the trading state, and the
heartbeat. SIGTERM and SIGINT stop it cleanly: the running cycle finishes, buffers are
written, and the heartbeat records the stop.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from datetime import UTC, date, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from core.calendar import last_sessions
from core.types import TradingState
from db.control import set_trading_state, utcnow
from db.models import WorkerStatus
from worker.clock import SimClock
from worker.runtime import Runtime, add_run_arguments, build_runtime, options_from_args, restore_simulated_account

log = logging.getLogger("worker")
LEASE_SECONDS = 15
MAX_CONSECUTIVE_FAILURES = 5


class LeaseHeldError(RuntimeError):
    """Another worker is alive on this database."""


class Worker:
    """The long-running process: a sim clock, the cycle, the control tick and the heartbeat."""

    def __init__(self, rt: Runtime, clock: SimClock, speed: float) -> None:
        self.rt = rt
        self.clock = clock
        self.speed = speed
        self.started_at = utcnow()
        self.failures = 0
        self.stopping = threading.Event()
        self.scheduler = BackgroundScheduler(timezone=UTC)

    # ---- jobs -----------------------------------------------------------------------------
    def cycle_job(self) -> None:
        now = self.clock.advance()
        if now is None:
            log.info("replay data exhausted; stopping")
            self.stopping.set()
            return
        try:
            self.rt.cycle.run(now)
            self.failures = 0
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
        period = 60.0 / self.speed
        self.scheduler.add_job(
            self.cycle_job,
            "interval",
            seconds=period,
            id="cycle",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.add_job(self.control_job, "interval", seconds=1, id="control", max_instances=1, coalesce=True)
        self.scheduler.add_job(
            self.heartbeat_job, "interval", seconds=5, id="heartbeat", max_instances=1, coalesce=True
        )
        self.scheduler.add_listener(self._on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)
        self.scheduler.start()
        log.info(
            "worker %s started: mode %s, source %s, speed x%s, sim time %s",
            self.rt.journal.run_id,
            self.rt.options.mode,
            self.rt.options.source,
            self.speed,
            self.clock.now.isoformat(),
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="sim", choices=["sim", "paper", "live"])
    parser.add_argument("--speed", type=float, default=60.0, help="sim only: simulated minutes per real minute")
    parser.add_argument("--start", type=date.fromisoformat, help="sim only: first session (default: resume)")
    add_run_arguments(parser, default_db=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    options = options_from_args(args, mode=args.mode)
    try:
        rt = build_runtime(options, "worker")
        check_lease(rt)
    except (ValueError, LeaseHeldError) as exc:
        raise SystemExit(f"worker refused to start: {exc}") from None
    restore_simulated_account(rt)
    worker = Worker(rt, resume_clock(rt, args.start), args.speed)
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stopping.set())
    worker.start()
    worker.stopping.wait()
    worker.stop()


if __name__ == "__main__":
    main()
