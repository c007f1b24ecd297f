"""What the console's risk view reads: each session's realized P&L of the worker (for VaR and
expected shortfall), and the newest market view of each underlying."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from db.models import Decision, Run, Trade


def daily_realized(engine: Engine) -> list[float]:
    """The worker's realized P&L per session day (closed trades by exit day), oldest first."""
    day = func.date(Trade.exit_time)
    stmt = (
        select(day, func.sum(Trade.realized_pnl))
        .where(Trade.status == "closed", Trade.run_id.in_(select(Run.id).where(Run.kind == "worker")))  # type: ignore[attr-defined]
        .group_by(day)
        .order_by(day)
    )
    with engine.connect() as conn:
        return [float(p) for _, p in conn.execute(stmt).all()]


def latest_spots(engine: Engine, symbols: list[str]) -> tuple[dict[str, float], float | None]:
    """The newest underlying price of each symbol and the newest VIX, from the worker's decisions."""
    spots: dict[str, float] = {}
    vix: float | None = None
    with engine.connect() as conn:
        for symbol in symbols:
            row = conn.execute(
                select(Decision.underlying_price, Decision.vix)
                .where(Decision.symbol == symbol, Decision.underlying_price.is_not(None))  # type: ignore[union-attr]
                .order_by(Decision.id.desc())  # type: ignore[union-attr]
                .limit(1)
            ).first()
            if row is not None:
                spots[symbol] = float(row[0])
                vix = float(row[1]) if row[1] is not None else vix
    return spots, vix
