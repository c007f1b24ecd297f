"""Order, fill and trade storage: the order row committed before the broker hears of it (under
the worker's lease), the broker's answers and fills, the trade rows they become, and the reads
of open orders and trades that restarts and reconciliation need.

A mixin of `Journal` (db/journal.py): it shares the journal's per-thread transaction, so a
broker update, its fills and the trade rows they move are one transaction.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select

from core.types import FillEvent, OptionContract, OrderRequest, OrderStatus, OrderUpdate, Side
from db.lease import Lease, fence
from db.models import Fill, Order, Trade
from db.rows import RowWriter

# Statements of the order path, built once: building them per call cost ~0.5 ms each.
_ORDER_ID = select(Order.id).where(Order.client_order_id == bindparam("cid"))
# Order states still working at the broker (the database's open orders; the console's too).
OPEN_ORDER_STATES: tuple[str, ...] = tuple(s.value for s in OrderStatus if s.is_open)
_ORDERS, _FILLS, _TRADES = RowWriter(Order.__table__), RowWriter(Fill.__table__), RowWriter(Trade.__table__)  # type: ignore[attr-defined]


class OrderStorage:
    """The journal's order, fill and trade rows (see the module docstring)."""

    engine: Engine
    run_id: str
    lease: Lease | None
    _order_ids: dict[str, int]  # client order id -> row id, while the order is open

    def transaction(self) -> AbstractContextManager[Connection]:  # provided by Journal
        raise NotImplementedError

    @property
    def _tx(self) -> Connection | None:  # provided by Journal
        raise NotImplementedError

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
            "legs": [
                {"symbol": leg.contract.symbol, "side": leg.side.value, "ratio": leg.ratio, "opening": leg.opening}
                for leg in request.legs
            ]
            or None,
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
        with self.engine.connect() as conn:
            stmt = select(Order).where(Order.status.in_(OPEN_ORDER_STATES)).order_by(Order.id)  # type: ignore[attr-defined]
            rows = conn.execute(stmt).mappings().all()
        return [Order.model_validate(dict(r)) for r in rows]

    def trade_fills(self, trade_id: int) -> list[tuple[FillEvent, bool]]:
        """Every fill of the orders of one trade, oldest first, with whether its order opened."""
        f = Fill.__table__.c  # type: ignore[attr-defined]
        stmt = (
            select(
                f.client_order_id,
                f.contract,
                f.side,
                f.qty,
                f.price,
                f.fee,
                f.time,
                f.quote_time,
                f.liquidation,
                f.price_source,
                Order.opening,
            )
            .join(Order, f.order_id == Order.id)  # type: ignore[arg-type]
            .where(Order.trade_id == trade_id)
            .order_by(f.id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [
            (FillEvent(r[0], OptionContract.from_symbol(r[1]), Side(r[2]), *r[3:10]), bool(r[10]))  # type: ignore[arg-type]
            for r in rows
        ]

    def unbooked(self, fills: list[FillEvent]) -> list[FillEvent]:
        """The fills not stored yet, by the fill table's identity (order, contract, time, qty,
        price): a fill read twice (an order re-read after a restart, say) is booked once."""
        if not fills:
            return []
        f = Fill.__table__.c  # type: ignore[attr-defined]
        cids = {x.client_order_id for x in fills}
        stmt = select(f.client_order_id, f.contract, f.time, f.qty, f.price).where(f.client_order_id.in_(cids))
        if self._tx is not None:
            rows = self._tx.execute(stmt).all()
        else:
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).all()
        seen = {(cid, contract, time, qty, round(price, 4)) for cid, contract, time, qty, price in rows}
        fresh = []
        for x in fills:
            key = (x.client_order_id, x.contract.symbol, x.time, x.qty, round(x.price, 4))
            if key not in seen:
                seen.add(key)
                fresh.append(x)
        return fresh

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
        "price_source": f.price_source,
    }
