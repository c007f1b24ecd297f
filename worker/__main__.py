"""`python -m worker`: the trading worker under APScheduler.

Jobs: the trading cycle (sim: one bar per tick, `--speed` times faster than real time; paper
and live: one cycle per new minute of the broker's clock), the 1-second control tick that
carries out the trading state, the heartbeat, and with a real broker the reconciliation
(at start and every few minutes). SIGTERM and SIGINT stop it cleanly: the running cycle
finishes, buffers are written, and the heartbeat records the stop.

Error policy (worker/failures.py): a cycle that fails at the broker counts towards REDUCING
and then HALTED (worker/health.py). Any other failed cycle is rolled back and, in sim mode, its
minute runs again (the clock only moves past a committed minute; paper and live record the
missed minutes as a `worker_gap` event). `--max-failed-cycles` in a row: a fault in the cycle
halts (flatten) and the minute is recorded as `cycle_failed` decisions; a database that cannot
be written stops the process with status 4 after saying why wherever it can. A lost lease
(another worker took over while this one was paused) stops the worker at once: it sends nothing
more (db/lease.py), writes why, and exits with status 3. Repeated failures are logged once per
kind per minute (worker/failure_log.py).

Start-up: signal handlers first (SIGTERM at any point exits 0, buffers flushed), then the
lease (one conditional write), then the restore (positions, cash, the loss limits' memory,
orders left open by a crash), and the clock continues after the last completed cycle.
"""

from __future__ import annotations

import signal
import threading

# First of all, before the heavy imports below: SIGTERM or SIGINT at any point of start-up asks
# for a clean stop (exit 0, buffers written), never kills the process half-way.
STOPPING = threading.Event()
if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, lambda *_: STOPPING.set())
    signal.signal(signal.SIGINT, lambda *_: STOPPING.set())

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, JobExecutionEvent  # noqa: E402
from apscheduler.schedulers.background import BackgroundScheduler  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from core.calendar import NY, cycle_minutes_between, last_sessions  # noqa: E402
from core.types import Reason, TradingState  # noqa: E402
from db.control import EventNote, set_trading_state, utcnow  # noqa: E402
from db.engine import database_url  # noqa: E402
from db.failures import DatabaseFailure, database_failure, sqlite_file_problem  # noqa: E402
from db.file_watch import SqliteFileWatch  # noqa: E402
from db.go_live import active_params  # noqa: E402
from db.lease import LeaseHeldError, LeaseLostError, acquire, last_cycle_time  # noqa: E402
from db.presets import apply_demo_preset  # noqa: E402
from worker.adapters.alpaca_http import BrokerUnavailableError, SettingsError  # noqa: E402
from worker.after_close import AfterClose  # noqa: E402
from worker.book.reconcile import Reconciler  # noqa: E402
from worker.clock import BrokerClock, SimClock  # noqa: E402
from worker.cycle.records import RiskBook  # noqa: E402
from worker.failure_log import FailureLog  # noqa: E402
from worker.failures import (  # noqa: E402
    CYCLE_FAILED,
    DEFAULT_MAX_FAILED_CYCLES,
    EXIT_DATABASE,
    CycleFailures,
    alert_now,
    database_stop_text,
    failed_minute_rows,
    say_on_stderr,
)
from worker.go_live import LiveGuard, open_live, paper_after_gate, return_to_paper  # noqa: E402
from worker.health import BrokerHealth  # noqa: E402
from worker.runtime import (  # noqa: E402
    RunOptions,
    Runtime,
    add_run_arguments,
    build_runtime,
    options_from_args,
    restore_simulated_account,
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


def resume_clock(rt: Runtime, start: date | None) -> SimClock:
    """Continue after the last completed cycle in the database, else start at a session open."""
    last = last_cycle_time(rt.engine)
    if last is not None and start is None:
        return SimClock(last, rt.next_session_after)
    if start is None:
        start = last_sessions(date.today() - timedelta(days=1), 30)[0].day  # any day: the synthetic market
    return SimClock.at_session_start(start, rt.next_session_after)


def real_broker_worker(rt: Runtime, args: argparse.Namespace, stopping: threading.Event) -> Worker:
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
    rt.cycle.risk = RiskBook.from_journal(rt.journal)
    worker = Worker(
        rt, clock, args.poll_seconds, Reconciler(rt.cycle), args.reconcile_minutes, stopping, args.max_failed_cycles
    )
    try:
        clock.now = read_clock()[0]
    except BrokerUnavailableError as exc:
        log.warning("%s", exc)
    worker.reconcile_job()
    return worker


def main(argv: list[str] | None = None) -> None:
    stopping = STOPPING  # set by the handlers installed at the top of this module
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="sim", choices=["sim", "paper", "live"])
    parser.add_argument("--speed", type=float, default=60.0, help="sim only: simulated minutes per real minute")
    parser.add_argument("--start", type=date.fromisoformat, help="sim only: first session (default: resume)")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="paper/live: how often the clock is read")
    parser.add_argument("--settle-seconds", type=float, default=2.0, help="paper/live: wait after a minute closes")
    parser.add_argument("--reconcile-minutes", type=float, default=3.0, help="paper/live: reconciliation period")
    parser.add_argument("--lease-seconds", type=float, default=15.0, help="how stale a heartbeat frees the lease")
    parser.add_argument(
        "--record",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="record bars, VIX and near-the-money option quotes for replay (default: in paper and live mode)",
    )
    parser.add_argument(
        "--record-band-pct", type=float, default=2.0, help="recorded quotes: strikes within this %% of spot"
    )
    parser.add_argument(
        "--demo-preset",
        action="store_true",
        help="on a fresh database, start on the demo preset (the rule baseline decides; make run uses it)",
    )
    parser.add_argument(
        "--max-failed-cycles",
        type=int,
        default=DEFAULT_MAX_FAILED_CYCLES,
        help="failed cycles in a row before the worker halts (a fault in the cycle) or exits with status "
        f"{EXIT_DATABASE} (the database cannot be written)",
    )
    add_run_arguments(parser, default_db=None)
    args = parser.parse_args(argv)
    if args.max_failed_cycles < 1:
        parser.error("--max-failed-cycles must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    # a dead database connection makes the pool log a traceback on every reset; the worker's own
    # failure log says the same once per kind per minute
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    options = options_from_args(args, mode=args.mode, record=args.record, record_band_pct=args.record_band_pct)
    try:
        worker = start_worker(options, args, stopping)
    except (ValueError, LeaseHeldError, SettingsError) as exc:  # GateRefusedError is a ValueError
        raise SystemExit(f"worker refused to start: {exc}") from None
    except Exception as exc:
        failure = database_failure(exc)
        if failure is None:
            raise
        url = database_url(options.db)
        found = sqlite_file_problem(url)
        where = make_url(url).render_as_string(hide_password=True)
        raise SystemExit(
            f"worker refused to start: {failure.describe()}{f': {found}' if found else ''} [{where}]"
        ) from None
    if not stopping.is_set():
        worker.start()
        stopping.wait()
    worker.stop()
    if worker.return_to_paper:
        return_to_paper(list(sys.argv[1:] if argv is None else argv))
    if worker.lease_lost:
        sys.exit(EXIT_LEASE_LOST)
    if worker.exit_status:
        sys.exit(worker.exit_status)


def start_worker(options: RunOptions, args: argparse.Namespace, stopping: threading.Event) -> Worker:
    """Everything before the first cycle: the runtime, the lease, the preset, the restore."""
    rt = build_runtime(options, "worker")
    guard = live_gate(rt) if options.mode == "live" else None  # before the lease: a refusal leaves nothing
    rt.journal.lease = acquire(rt.engine, rt.journal.run_id, options.mode, args.lease_seconds)
    log.info("lease taken (token %d, period %.0f s)", rt.journal.lease.token, args.lease_seconds)
    if options.mode == "paper" and paper_after_gate(rt.engine, rt.journal.run_id):
        log.warning("back on paper after the go-live gate's refusal: its REDUCING is lifted")
    if args.demo_preset and (demo := apply_demo_preset(rt.engine)) is not None:
        log.info("fresh database: parameter version %d is the demo preset (policy_mode rules)", demo)
    if rt.clients is None:
        restore_simulated_account(rt)
        clock = resume_clock(rt, args.start)
        return Worker(rt, clock, 60.0 / args.speed, stopping=stopping, max_failed_cycles=args.max_failed_cycles)
    worker = real_broker_worker(rt, args, stopping)
    worker.live_guard = guard
    return worker


def live_gate(rt: Runtime) -> LiveGuard:
    """The go-live gate for the policy and parameters this worker would trade live (worker/go_live.py);
    every cycle's control read goes past it too, so a version or override change is judged at once."""
    rt.cycle.policy.set_mode(active_params(rt.engine)[1].policy_mode)
    guard = open_live(rt.engine, rt.cycle.policy.version)
    guard.run_id = rt.journal.run_id
    rt.cycle.size_cap = guard.size_cap
    rt.cycle.live_check = guard
    return guard


if __name__ == "__main__":
    main()
