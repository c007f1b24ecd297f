"""Reads of the account's history that a restart (and a backtest's summary) needs: the loss
limits' memory, the trades a session has made, the cash the fills imply.

A mixin of `Journal`: a worker reads the history of every run on its database (restarts
continue one account); a backtest only its own run's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from db.models import Equity, Fill, Trade


class AccountHistory:
    """History reads (see the module docstring)."""

    engine: Engine
    run_id: str
    history_of_all_runs: bool

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
