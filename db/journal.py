"""The worker's write API: decisions, orders (before they are sent), fills, trades, equity,
heartbeat and events.

Decisions and equity rows are buffered and written in one transaction per flush (every cycle
in the worker, every few cycles in a backtest), together with the clock of the last completed
cycle: a restart continues after it and never decides a minute twice. An order is different:
`persist_order` commits it on its own before the broker ever hears of it. With a lease (the
worker), both transactions first renew it (db/lease.py): a worker that lost its lease writes
neither, and raises LeaseLostError.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from core.params import TradingParams
from core.records import DecisionRow
from core.types import TradingState
from db.control import ControlSnapshot, utcnow
from db.engine import make_engine
from db.history import AccountHistory
from db.lease import Heartbeat, Lease, fence, write_heartbeat
from db.model_store import PolicyMemoryState, save_policy_memories
from db.models import Bar, ControlState, Decision, Equity, Event, OptionQuote, ParamVersion, Run, Trade, VixHistory
from db.order_store import OrderStorage
from db.rows import epoch_text, executemany, insert_sql, utc_text
from db.types import UTCDateTime

# Read every cycle and every control tick: plain SQL on a held connection costs ~20 us.
_CONTROL_SQL = (
    f"SELECT state, flatten, reason_code, active_param_version, halt_applied_at "
    f"FROM {ControlState.__tablename__} WHERE id = 1"
)
_UTC = UTCDateTime()
# Decision rows are DecisionRow tuples, written in their field order (time and bar_time first:
# they are converted; bar_time is the bar's start in epoch seconds, as the bars hold it).
DECISION_COLUMNS: tuple[str, ...] = DecisionRow._fields
EQUITY_COLUMNS: tuple[str, ...] = ("time", "cash", "equity", "peak", "start_of_day")
BAR_COLUMNS: tuple[str, ...] = ("symbol", "time", "open", "high", "low", "close", "volume", "source", "degraded")
QUOTE_COLUMNS: tuple[str, ...] = (
    "time",
    "quote_time",
    "underlying",
    "contract",
    "bid",
    "ask",
    "bid_size",
    "ask_size",
    "iv",
    "delta",
    "spot",
    "source",
    "degraded",
)


_DECISION_SQL = insert_sql("decision", ("run_id", *DECISION_COLUMNS))
_EQUITY_SQL = insert_sql("equity", ("run_id", *EQUITY_COLUMNS))
_MARK_TRADE = (
    update(Trade)
    .where(Trade.id == bindparam("tid"), Trade.status == "open")
    .values(
        mark_bid=bindparam("mark_bid"),
        marked_at=bindparam("marked_at"),
        mae_pct=bindparam("mae_pct"),
        mfe_pct=bindparam("mfe_pct"),
        peak_bid=bindparam("peak_bid"),
    )
)


class Journal(OrderStorage, AccountHistory):
    """The worker's write API; order storage (db/order_store.py) and history reads
    (db/history.py) are its parts."""

    def __init__(self, engine: Engine, run_id: str, flush_every: int = 1) -> None:
        self.engine = engine
        self.lease: Lease | None = None  # the worker's; None in backtests and one-off commands
        # the root of client order ids: the database's identity for a worker (the same intent gets
        # the same id in any process), the run's id for a backtest (each run trades on its own)
        self.identity = run_id
        self.history_of_all_runs = False  # a worker: restarts continue the same account (set by the runtime)
        self._cycle_time: datetime | None = None  # the last completed cycle, written with the flush
        self.reader = make_engine(str(engine.url.render_as_string(hide_password=False)), role="reader")
        self.run_id = run_id
        self.flush_every = flush_every
        self._decisions: list[DecisionRow] = []
        self._equity: list[tuple[Any, ...]] = []
        self._marks: dict[int, tuple[Any, ...]] = {}
        self._bars: list[tuple[Any, ...]] = []  # recorded market inputs (paper and live)
        self._quotes: list[tuple[Any, ...]] = []
        self._memories: dict[tuple[str, str], tuple[PolicyMemoryState, datetime]] = {}
        self._cycles = 0
        self._params_cache: dict[int, TradingParams] = {}
        self._used_versions: set[int] = set()
        self._raw: Any = None
        self._last_row: Any = None
        self._last_read: tuple[ControlSnapshot, TradingParams] | None = None
        self._local = threading.local()  # the open transaction is per thread (cycle, control, heartbeat)
        self._fast = engine.dialect.name == "sqlite"
        self._order_ids: dict[str, int] = {}  # client order id -> row id, while the order is open

    @property
    def _tx(self) -> Connection | None:
        return getattr(self._local, "tx", None)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction for everything inside; nested calls (in the same thread) join it."""
        if self._tx is not None:
            yield self._tx
            return
        with self.engine.begin() as conn:
            self._local.tx = conn
            try:
                yield conn
            finally:
                self._local.tx = None

    # ---- runs and control ---------------------------------------------------------------
    def start_run(
        self,
        kind: str,
        mode: str,
        source: str,
        seed: int | None,
        args: dict[str, Any],
        trading_host: str | None = None,
    ) -> None:
        """The run's row; `trading_host` is the broker's host in paper and live (None: the simulator)."""
        row = {"kind": kind, "mode": mode, "source": source, "seed": seed, "args": args, "trading_host": trading_host}
        with self.transaction() as conn:
            conn.execute(insert(Run).values(id=self.run_id, started_at=utcnow(), **row))

    def read_control(self) -> tuple[ControlSnapshot, TradingParams]:
        """The trading state and the active parameters (re-read every cycle, parsed once per version)."""
        if self._raw is None:
            self._raw = self.reader.raw_connection()
        cursor = self._raw.cursor()
        try:
            cursor.execute(_CONTROL_SQL)
            row = cursor.fetchone()
        finally:
            cursor.close()
            if not self._fast:
                self._raw.commit()  # end the read so the next one sees new commits (Postgres)
        if row is None:
            raise RuntimeError("the database has no control row: run `python -m db.migrate` first")
        if row == self._last_row and self._last_read is not None:
            return self._last_read  # unchanged since the last read: skip rebuilding the snapshot
        state, flatten, reason_code, version, halt_applied_at = row
        version = int(version or 0)
        if version not in self._params_cache:
            with self.reader.connect() as conn:
                values = conn.execute(select(ParamVersion.values).where(ParamVersion.id == version)).scalar_one()
            self._params_cache[version] = TradingParams.model_validate(values)
        applied = _UTC.process_result_value(halt_applied_at, self.reader.dialect)
        snap = ControlSnapshot(TradingState(state), bool(flatten), reason_code, version, applied)
        self._last_row, self._last_read = row, (snap, self._params_cache[version])
        return self._last_read

    def note_param_used(self, version: int, at: datetime) -> None:
        """Stamp the first cycle that ran on a parameter version (the console shows it)."""
        if version in self._used_versions:
            return
        self._used_versions.add(version)
        with self.transaction() as conn:
            conn.execute(
                update(ParamVersion)
                .where(ParamVersion.id == version, ParamVersion.first_used_at.is_(None))  # type: ignore[union-attr]
                .values(first_used_at=at)
            )

    # ---- buffered rows ------------------------------------------------------------------
    def add_decision(self, row: DecisionRow) -> None:
        """One decision row (a NamedTuple: typed, and still a tuple on this per-bar path)."""
        self._decisions.append(row)

    def add_equity(self, time: datetime, cash: float, equity: float, peak: float, start_of_day: float) -> None:
        self._equity.append((time, cash, equity, peak, start_of_day))

    def mark_trade(
        self, trade_id: int, bid: float, at: datetime, mae_pct: float, mfe_pct: float, peak_bid: float
    ) -> None:
        """An open trade's latest bid, excursions and peak bid, written with the next flush (every
        cycle in the worker); only the newest mark per trade is kept. Reductions and the close
        write the peak themselves, so a trailing stop restored after a restart has it."""
        self._marks[trade_id] = (bid, at, mae_pct, mfe_pct, peak_bid)

    def add_bar(self, row: tuple[Any, ...]) -> None:
        """A recorded bar, in BAR_COLUMNS order; written with the cycle's flush."""
        self._bars.append(row)

    def add_quote(self, row: tuple[Any, ...]) -> None:
        """A recorded option quote, in QUOTE_COLUMNS order; written with the cycle's flush."""
        self._quotes.append(row)

    def record_vix_history(self, day: str, closes: list[float]) -> None:
        """The daily VIX closes behind a day's IV rank, once per day (replays rank the same)."""
        with self.transaction() as conn:
            if conn.execute(select(VixHistory.day).where(VixHistory.day == day)).first() is None:
                conn.execute(insert(VixHistory).values(day=day, closes=closes))

    def newest_bar_time(self, symbol: str) -> datetime | None:
        """The newest recorded bar of a symbol (a restarted recorder continues after it)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(Bar.time)).where(Bar.symbol == symbol)).scalar()

    def remember_policy(self, symbol: str, model_version: str, memory: PolicyMemoryState, at: datetime) -> None:
        """The RL policy's LSTM state for a symbol after this cycle; the newest is written at the flush."""
        self._memories[(symbol, model_version)] = (memory, at)

    def end_cycle(self, now: datetime) -> None:
        self._cycles += 1
        self._cycle_time = now
        if self._cycles % self.flush_every == 0:
            self.flush()

    def flush(self) -> None:
        if not (self._decisions or self._equity or self._marks or self._memories or self._bars or self._quotes):
            return
        with self.transaction() as conn:
            if self.lease is not None:  # the cycle's rows and its clock, only under the lease
                fence(conn, self.lease, cycle_time=self._cycle_time)
            self._write_buffers(conn)

    def discard_pending(self) -> None:
        """Drop the rows buffered since the last flush (a failed cycle: its minute runs again and
        writes them anew), and forget the held read connection and the cached control row, so
        the retry reads through a fresh connection (a restarted Postgres, a remounted disk)."""
        self._decisions, self._equity, self._marks, self._memories = [], [], {}, {}
        self._bars, self._quotes = [], []
        self._last_row = self._last_read = None
        raw, self._raw = self._raw, None
        if raw is not None:
            with suppress(Exception):  # a dead connection cannot always say goodbye
                raw.close()
        self.reader.dispose()

    def _write_buffers(self, conn: Connection) -> None:
        if self._decisions:
            if self._fast:
                rows = [
                    (self.run_id, utc_text(v[0]), None if v[1] is None else epoch_text(v[1]), *v[2:])
                    for v in self._decisions
                ]
                executemany(conn, _DECISION_SQL, rows)
            else:
                rows = [
                    (v[0], None if v[1] is None else datetime.fromtimestamp(v[1], UTC), *v[2:]) for v in self._decisions
                ]
                self._insert_dicts(conn, Decision, DECISION_COLUMNS, rows)
        if self._equity:
            if self._fast:
                rows = [(self.run_id, utc_text(v[0]), *v[1:]) for v in self._equity]
                executemany(conn, _EQUITY_SQL, rows)
            else:
                self._insert_dicts(conn, Equity, EQUITY_COLUMNS, self._equity)
        if self._marks:
            conn.execute(
                _MARK_TRADE,
                [
                    {"tid": tid, "mark_bid": bid, "marked_at": at, "mae_pct": mae, "mfe_pct": mfe, "peak_bid": peak}
                    for tid, (bid, at, mae, mfe, peak) in self._marks.items()
                ],
            )
        if self._memories:
            save_policy_memories(conn, self._memories)
        if self._bars:
            conn.execute(insert(Bar), [dict(zip(BAR_COLUMNS, r, strict=True)) for r in self._bars])
        if self._quotes:
            conn.execute(insert(OptionQuote), [dict(zip(QUOTE_COLUMNS, r, strict=True)) for r in self._quotes])
        self._decisions, self._equity, self._marks, self._memories = [], [], {}, {}
        self._bars, self._quotes = [], []

    def _insert_dicts(
        self, conn: Connection, table: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        """The portable path (Postgres and others): SQLAlchemy inserts with full type processing."""
        names = ("run_id", *columns)
        conn.execute(insert(table), [dict(zip(names, (self.run_id, *v), strict=True)) for v in rows])

    # ---- heartbeat and events -------------------------------------------------------------
    def heartbeat(
        self,
        mode: str,
        sim_time: datetime | None,
        state: TradingState,
        last_cycle_ms: float,
        started_at: datetime,
        stopped: bool = False,
    ) -> None:
        """The worker's heartbeat (db/lease.py): renews its own lease, LeaseLostError if taken."""
        beat = Heartbeat(self.run_id, mode, sim_time, state.value, last_cycle_ms, started_at, stopped)
        with self.transaction() as conn:
            write_heartbeat(conn, beat, self.lease)

    def event(self, level: str, code: str, message: str, time: datetime | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                insert(Event).values(time=time or utcnow(), run_id=self.run_id, level=level, code=code, message=message)
            )
