"""`python -m worker`: the trading worker under APScheduler.

Jobs: the trading cycle (sim: one bar per tick, `--speed` times faster than real time; paper
and live: one cycle per new minute of the broker's clock), the 1-second control tick that
carries out the trading state, the heartbeat, and with a real broker the reconciliation
(at start and every few minutes). SIGTERM and SIGINT stop it cleanly: the running cycle
finishes, buffers are written, and the heartbeat records the stop.

Error policy (worker/process/failures.py): a cycle that fails at the broker counts towards REDUCING
and then HALTED (worker/process/health.py). Any other failed cycle is rolled back and, in sim mode, its
minute runs again (the clock only moves past a committed minute; paper and live record the
missed minutes as a `worker_gap` event). `--max-failed-cycles` in a row: a fault in the cycle
halts (flatten) and the minute is recorded as `cycle_failed` decisions; a database that cannot
be written stops the process with status 4 after saying why wherever it can. A lost lease
(another worker took over while this one was paused) stops the worker at once: it sends nothing
more (db/lease.py), writes why, and exits with status 3. Repeated failures are logged once per
kind per minute (worker/process/failure_log.py).

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
from datetime import date, datetime, timedelta  # noqa: E402

from sqlalchemy.engine import make_url  # noqa: E402

from core.calendar import last_sessions  # noqa: E402
from db.engine import database_url  # noqa: E402
from db.failures import database_failure, sqlite_file_problem  # noqa: E402
from db.go_live import active_params  # noqa: E402
from db.lease import LeaseHeldError, acquire, last_cycle_time  # noqa: E402
from db.presets import apply_demo_preset  # noqa: E402
from worker.adapters.alpaca_http import BrokerUnavailableError, SettingsError  # noqa: E402
from worker.book.reconcile import Reconciler  # noqa: E402
from worker.cycle.records import RiskBook  # noqa: E402
from worker.process.clock import BrokerClock, SimClock  # noqa: E402
from worker.process.failures import (  # noqa: E402
    DEFAULT_MAX_FAILED_CYCLES,
    EXIT_DATABASE,
)
from worker.process.go_live import LiveGuard, open_live, paper_after_gate, return_to_paper  # noqa: E402
from worker.process.main_loop import EXIT_LEASE_LOST, Worker  # noqa: E402
from worker.runtime import (  # noqa: E402
    RunOptions,
    Runtime,
    add_run_arguments,
    build_runtime,
    options_from_args,
    restore_simulated_account,
)

log = logging.getLogger("worker")


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
    """The go-live gate for the policy and parameters this worker would trade live (worker/process/go_live.py);
    every cycle's control read goes past it too, so a version or override change is judged at once."""
    rt.cycle.policy.set_mode(active_params(rt.engine)[1].policy_mode)
    guard = open_live(rt.engine, rt.cycle.policy.version)
    guard.run_id = rt.journal.run_id
    rt.cycle.size_cap = guard.size_cap
    rt.cycle.live_check = guard
    return guard


if __name__ == "__main__":
    main()
