"""What the chat commands answer, from the database alone (no Telegram here): the same reads
the console uses, in a few lines a phone shows without scrolling. Times are New York market time
(ET); in sim mode the worker's clock is simulated and said to be."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from core.calendar import NY
from core.params import TradingParams
from db import reads
from db.models import Trade

MAX_LINES = 12


def _state(engine: Engine) -> dict[str, Any]:
    return reads.control_state(engine) or {}


def _clock_note(engine: Engine) -> str:
    status = reads.worker_status(engine) or {}
    clock = reads.market_clock(engine, status)
    kind = "simulated" if status.get("mode") == "sim" else "market"
    return f"{clock.now.astimezone(NY):%Y-%m-%d %H:%M} ET ({kind} clock)"


def status(engine: Engine) -> str:
    control = _state(engine)
    worker = reads.worker_status(engine) or {}
    alive = "no worker has run" if not worker else ("stopped" if worker.get("stopped") else "running")
    lines = [
        f"Trading state: {control.get('state', 'unknown')} "
        f"({control.get('reason_code', '')}: {control.get('reason', '')})",
        f"Worker: {alive}, mode {worker.get('mode', '-')}; parameters v{control.get('active_param_version', '-')}",
        f"Clock: {_clock_note(engine)}",
    ]
    return "\n".join(lines)


def positions(engine: Engine) -> str:
    frame = reads.open_positions(engine)
    if frame.empty:
        return "No open position."
    lines = []
    for row in frame.head(MAX_LINES).itertuples():
        what = str(row.structure or row.contract)
        label = f"{row.underlying} {what}" if row.legs else str(row.contract)
        lines.append(f"#{row.id} {label} x{row.qty_open}: entry {row.entry_avg:.2f}, P&L {row.unrealized_pnl:+,.2f}")
    return "\n".join(lines)


def pnl(engine: Engine, now: datetime) -> str:
    """Realized P&L today and over the last 7 days (New York dates of the exits)."""
    today = now.astimezone(NY).replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=6)
    with engine.connect() as conn:
        rows = {
            name: conn.execute(
                select(func.count(), func.coalesce(func.sum(Trade.realized_pnl), 0.0)).where(
                    Trade.status == "closed", Trade.exit_time >= since
                )
            ).one()
            for name, since in (("today", today), ("7 days", week))
        }
    return "\n".join(f"{name}: {money:+,.2f} on {count} trades" for name, (count, money) in rows.items())


def trades(engine: Engine, count: int = 5) -> str:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Trade.id, Trade.contract, Trade.structure, Trade.realized_pnl, Trade.exit_reason_code, Trade.exit_time
            )
            .where(Trade.status == "closed")
            .order_by(Trade.exit_time.desc())  # type: ignore[union-attr]
            .limit(count)
        ).all()
    if not rows:
        return "No closed trade yet."
    return "\n".join(
        f"#{r.id} {r.structure or r.contract} {r.realized_pnl:+,.2f} ({r.exit_reason_code}, "
        f"{r.exit_time.astimezone(NY):%m-%d %H:%M} ET)"
        for r in rows
    )


def risk(engine: Engine) -> str:
    control = _state(engine)
    version = reads.param_version(engine, int(control.get("active_param_version") or 0))
    p = TradingParams.model_validate(version["values"] if version else {})
    return "\n".join(
        [
            f"Strategy {p.strategy.value}, policy {p.policy_mode.value}, min confidence {p.min_confidence}",
            f"Risk per trade {p.risk_per_trade_pct}%, max open positions {p.max_open_positions}",
            f"Daily loss limit {p.daily_loss_limit_pct}% (REDUCING), max drawdown {p.max_drawdown_pct}% (HALTED)",
            f"Max trades per symbol a day {p.max_trades_per_symbol_day}, flatten {p.flatten_before_close_min} min "
            "before the close",
        ]
    )


HELP = "\n".join(
    [
        "/status: trading state, worker, clock",
        "/positions: open positions with P&L",
        "/pnl: realized P&L today and over 7 days",
        "/trades: the last 5 closed trades",
        "/risk: the risk parameters in force",
        "/stop [reason]: HALTED, flatten everything (at once)",
        "/stopentry [reason]: REDUCING, no new entries (at once)",
        "/close <trade id> [reason]: close one position (asks to confirm)",
        "/resume [reason]: back to ACTIVE (asks to confirm)",
    ]
)
