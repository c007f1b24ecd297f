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

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from core.params import TradingParams
from core.records import DecisionRow
from core.types import FillEvent, OrderRequest, OrderStatus, OrderUpdate, TradingState
from db.control import ControlSnapshot, utcnow
from db.engine import make_engine
from db.lease import Lease, fence
from db.model_store import PolicyMemoryState, save_policy_memories
from db.models import ControlState, Decision, Equity, Event, Fill, Order, ParamVersion, Run, Trade, WorkerStatus
from db.rows import RowWriter, epoch_text, executemany, insert_sql, utc_text
from db.types import UTCDateTime

# Read every cycle and every control tick: plain SQL on a held connection costs ~20 us.
_CONTROL_SQL = (
    f"SELECT state, flatten, reason_code, active_param_version, halt_applied_at "
    f"FROM {ControlState.__tablename__} WHERE id = 1"
)
_UTC = UTCDateTime()
# Statements of the order path, built once: building them per call cost ~0.5 ms each.
_ORDER_ID = select(Order.id).where(Order.client_order_id == bindparam("cid"))
_ORDERS, _FILLS, _TRADES = RowWriter(Order.__table__), RowWriter(Fill.__table__), RowWriter(Trade.__table__)  # type: ignore[attr-defined]
# Decision rows are DecisionRow tuples, written in their field order (time and bar_time first:
# they are converted; bar_time is the bar's start in epoch seconds, as the bars hold it).
DECISION_COLUMNS: tuple[str, ...] = DecisionRow._fields
EQUITY_COLUMNS: tuple[str, ...] = ("time", "cash", "equity", "peak", "start_of_day")


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


class Journal:
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
    def start_run(self, kind: str, mode: str, source: str, seed: int | None, args: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                insert(Run).values(
                    id=self.run_id, kind=kind, mode=mode, source=source, seed=seed, started_at=utcnow(), args=args
                )
            )

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

    def remember_policy(self, symbol: str, model_version: str, memory: PolicyMemoryState, at: datetime) -> None:
        """The RL policy's LSTM state for a symbol after this cycle; the newest is written at the flush."""
        self._memories[(symbol, model_version)] = (memory, at)

    def end_cycle(self, now: datetime) -> None:
        self._cycles += 1
        self._cycle_time = now
        if self._cycles % self.flush_every == 0:
            self.flush()

    def flush(self) -> None:
        if not (self._decisions or self._equity or self._marks or self._memories):
            return
        with self.transaction() as conn:
            if self.lease is not None:  # the cycle's rows and its clock, only under the lease
                fence(conn, self.lease, cycle_time=self._cycle_time)
            self._write_buffers(conn)

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
        self._decisions, self._equity, self._marks, self._memories = [], [], {}, {}

    def _insert_dicts(
        self, conn: Connection, table: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        """The portable path (Postgres and others): SQLAlchemy inserts with full type processing."""
        names = ("run_id", *columns)
        conn.execute(insert(table), [dict(zip(names, (self.run_id, *v), strict=True)) for v in rows])

    # ---- orders, fills, trades ------------------------------------------------------------
    def persist_order(
        self, request: OrderRequest, reason_code: str, now: datetime, trade_id: int | None = None
    ) -> None:
        """Commit the order as pending before it is sent (under the lease, when there is one)."""
        if self._tx is not None:
            raise RuntimeError("persist_order must commit on its own, never inside another transaction")
        with self.transaction() as conn:
            if self.lease is not None:
                fence(conn, self.lease)
            order_id = _ORDERS.insert_one(conn, self._order_values(request, reason_code, now, trade_id, "pending"))
        self._order_ids[request.client_order_id] = order_id

    def _order_values(
        self, request: OrderRequest, reason_code: str, now: datetime, trade_id: int | None, status: str
    ) -> dict[str, Any]:
        return {
            "client_order_id": request.client_order_id,
            "run_id": self.run_id,
            "trade_id": trade_id,
            "created_at": now,
            "updated_at": now,
            "underlying": request.contract.underlying,
            "contract": request.contract.symbol,
            "side": request.side.value,
            "qty": request.qty,
            "opening": request.opening,
            "order_type": request.order_type,
            "limit_price": request.limit_price,
            "reason_code": reason_code,
            "status": status,
        }

    def record_update(
        self,
        upd: OrderUpdate,
        now: datetime,
        trade_id: int | None = None,
        broker_initiated: OrderRequest | None = None,
        reason_code: str = "",
    ) -> None:
        """Store the broker's answer and any fills; create the row for broker-initiated orders."""
        with self.transaction() as conn:
            order_id = self._order_ids.get(upd.client_order_id)
            if order_id is None:
                order_id = conn.execute(_ORDER_ID, {"cid": upd.client_order_id}).scalar()
            if order_id is None:
                if broker_initiated is None:
                    raise LookupError(f"order {upd.client_order_id} is not in the database")
                values = self._order_values(broker_initiated, reason_code, now, trade_id, upd.status.value)
                order_id = _ORDERS.insert_one(conn, values)
            fields = {
                "status": upd.status.value,
                "broker_order_id": upd.broker_order_id,
                "filled_qty": upd.filled_qty,
                "avg_fill_price": upd.avg_fill_price,
                "reject_reason": upd.reject_reason,
                "updated_at": now,
            }
            if trade_id is not None:  # an update without a trade keeps the one the order has
                fields["trade_id"] = trade_id
            _ORDERS.update(conn, order_id, fields)
            if upd.fills:
                _FILLS.insert_many(conn, [_fill_row(f, order_id) for f in upd.fills])
        if not upd.status.is_open:
            self._order_ids.pop(upd.client_order_id, None)

    def open_trade(self, fields: dict[str, Any]) -> int:
        with self.transaction() as conn:
            return _TRADES.insert_one(conn, {"run_id": self.run_id, "status": "open", **fields})

    def update_trade(self, trade_id: int, **fields: Any) -> None:
        with self.transaction() as conn:
            _TRADES.update(conn, trade_id, fields)

    def open_trades(self) -> list[Trade]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(Trade).where(Trade.status == "open").order_by(Trade.id)).mappings().all()
        return [Trade.model_validate(dict(r)) for r in rows]

    def open_orders(self) -> list[Order]:
        """Orders the database still counts as open (pending, accepted, partially filled)."""
        open_states = [s.value for s in OrderStatus if s.is_open]
        with self.engine.connect() as conn:
            rows = conn.execute(select(Order).where(Order.status.in_(open_states)).order_by(Order.id)).mappings().all()
        return [Order.model_validate(dict(r)) for r in rows]

    def order_status(self, client_order_id: str) -> str | None:
        """The stored status of an order, None when the database has no such order."""
        with self.engine.connect() as conn:
            return conn.execute(select(Order.status).where(Order.client_order_id == client_order_id)).scalar()

    def known_order_ids(self, client_order_ids: list[str]) -> set[str]:
        """Which of these client order ids the database has."""
        if not client_order_ids:
            return set()
        with self.engine.connect() as conn:
            found = conn.execute(select(Order.client_order_id).where(Order.client_order_id.in_(client_order_ids)))
            return {r[0] for r in found}

    def last_equity(self) -> tuple[datetime, float, float, float] | None:
        """The newest equity row (time, equity, peak, start of day): the loss limits' memory."""
        query = select(Equity.time, Equity.equity, Equity.peak, Equity.start_of_day)
        if not self.history_of_all_runs:
            query = query.where(Equity.run_id == self.run_id)
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(Equity.id.desc()).limit(1)).first()  # type: ignore[union-attr]
        return None if row is None else (row[0], float(row[1]), float(row[2]), float(row[3]))

    def session_trades(self, start: datetime, end: datetime) -> list[tuple[str, datetime, datetime | None]]:
        """(underlying, entry time, exit time) of the trades entered in [start, end]: what the
        per-session safeguards count (entries today, the cooldown after the last exit)."""
        query = select(Trade.underlying, Trade.entry_time, Trade.exit_time).where(
            Trade.entry_time >= start, Trade.entry_time <= end
        )
        if not self.history_of_all_runs:
            query = query.where(Trade.run_id == self.run_id)
        with self.engine.connect() as conn:
            return [(u, e, x) for u, e, x in conn.execute(query.order_by(Trade.id)).all()]

    def cash_from_fills(self, initial_cash: float) -> float:
        """Cash implied by every fill so far: how a restarted simulator rebuilds its account."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(Fill.side, Fill.qty, Fill.price, Fill.fee)).all()
        cash = initial_cash
        for side, qty, price, fee in rows:
            cash += (-1 if side == "buy" else 1) * price * 100 * qty - fee
        return cash

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
        values = {
            "run_id": self.run_id,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "mode": mode,
            "started_at": started_at,
            "heartbeat_at": utcnow(),
            "sim_time": sim_time,
            "state_seen": state.value,
            "last_cycle_ms": last_cycle_ms,
            "stopped": stopped,
        }
        with self.transaction() as conn:
            if self.lease is not None:  # renews only this worker's own lease (LeaseLostError if taken)
                fence(
                    conn,
                    self.lease,
                    sim_time=sim_time,
                    state_seen=state.value,
                    last_cycle_ms=last_cycle_ms,
                    stopped=False,
                )
                if stopped:
                    conn.execute(update(WorkerStatus).where(WorkerStatus.id == "worker").values(stopped=True))
                return
            done = conn.execute(update(WorkerStatus).where(WorkerStatus.id == "worker").values(**values)).rowcount
            if not done:
                conn.execute(insert(WorkerStatus).values(id="worker", **values))

    def event(self, level: str, code: str, message: str, time: datetime | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                insert(Event).values(time=time or utcnow(), run_id=self.run_id, level=level, code=code, message=message)
            )


def _fill_row(f: FillEvent, order_id: int) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "client_order_id": f.client_order_id,
        "time": f.time,
        "quote_time": f.quote_time,
        "contract": f.contract.symbol,
        "side": f.side.value,
        "qty": f.qty,
        "price": f.price,
        "fee": f.fee,
        "liquidation": f.liquidation,
    }
