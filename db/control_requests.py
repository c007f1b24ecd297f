"""Per-position control (keyword-only): the console asks to close one position or cancel one
order; the worker reads the open requests and records what it did. A request for something
that is not open is refused at once with the reason, and nothing is stored."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlmodel import Session

from db.control import utcnow
from db.models import ControlRequest, Order, Trade
from db.order_store import OPEN_ORDER_STATES

CLOSE_POSITION, CANCEL_ORDER = "close_position", "cancel_order"


class RequestRefusedError(ValueError):
    """A request the console must not store, with the reason in words."""


@dataclass(frozen=True)
class OpenRequest:
    """What the worker needs of a pending or working request."""

    id: int
    kind: str
    who: str
    reason: str
    trade_id: int | None
    client_order_id: str | None
    status: str


def request_close(engine: Engine, *, trade_id: int, who: str, reason: str = "") -> int:
    """Ask the worker to close trade `trade_id`'s position; returns the request id."""
    with Session(engine) as s:
        trade = s.get(Trade, trade_id)
        if trade is None or trade.status != "open":
            raise RequestRefusedError(f"trade {trade_id} has no open position to close")
        row = ControlRequest(at=utcnow(), who=who, kind=CLOSE_POSITION, trade_id=trade_id, reason=reason.strip())
        s.add(row)
        s.commit()
        return int(row.id or 0)


def request_cancel(engine: Engine, *, client_order_id: str, who: str, reason: str = "") -> int:
    """Ask the worker to cancel one working order; returns the request id."""
    with Session(engine) as s:
        order = s.exec(select(Order).where(Order.client_order_id == client_order_id)).first()  # type: ignore[call-overload]
        if order is None or order[0].status not in OPEN_ORDER_STATES:
            raise RequestRefusedError(f"order {client_order_id[:12]} is not working at the broker")
        row = ControlRequest(
            at=utcnow(), who=who, kind=CANCEL_ORDER, client_order_id=client_order_id, reason=reason.strip()
        )
        s.add(row)
        s.commit()
        return int(row.id or 0)


def open_requests(engine: Engine) -> list[OpenRequest]:
    """Pending and working requests, oldest first (the worker's control tick reads them)."""
    with Session(engine) as s:
        rows = s.exec(
            select(ControlRequest).where(ControlRequest.status.in_(("pending", "working"))).order_by(ControlRequest.id)  # type: ignore[attr-defined,arg-type]
        ).all()
        return [OpenRequest(r.id, r.kind, r.who, r.reason, r.trade_id, r.client_order_id, r.status) for (r,) in rows]


def settle(engine: Engine, *, request_id: int, status: str, result: str) -> None:
    """What the worker did with a request: working (sent, not yet flat), done or refused."""
    with Session(engine) as s:
        row = s.get(ControlRequest, request_id)
        if row is not None:
            row.status, row.result, row.updated_at = status, result, utcnow()
            s.add(row)
            s.commit()
