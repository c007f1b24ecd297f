"""Each open position as a card a trader reads at a glance: entry, bid, P&L, the stop, the
take-profit and the trailing stop as prices, how far the bid is from the stop, delta and
10-minute theta (model greeks at the newest underlying price), and the minutes to the
end-of-day flatten. The levels are core/exits.py's own rules (core/position_view.py)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from console.formatting import dollars
from console.structure_card import structure_card
from core.calendar import NY, next_session, session_for
from core.exits import PositionState
from core.params import TradingParams
from core.position_view import distance_to_stop_pct, exit_levels, model_greeks
from core.types import OptionContract
from db import reads


def _position(row: Any) -> PositionState:
    return PositionState(
        int(row.id),
        OptionContract.from_symbol(str(row.contract)),
        int(row.direction),
        int(row.entry_qty),
        int(row.qty_open),
        float(row.entry_avg),
        row.entry_time,
        float(row.peak_bid or row.entry_avg),
        int(row.partials_done or 0),
        float(row.entry_atr_pct or 0.05),
        float(row.vix or 18.0),
        float(row.entry_trend_pct or 0.0),
    )


def _params(engine: Any, version: int) -> TradingParams:
    found = reads.param_version(engine, version)
    return TradingParams.model_validate(found["values"] if found else {})


def position_cards(engine: Any, positions: pd.DataFrame, clock: reads.MarketClock) -> None:
    """One card per open position, timed by the worker's market clock (db/reads.market_clock)."""
    now = clock.now
    day = now.astimezone(NY).date()
    today = session_for(day)
    session = today or next_session(day)  # a weekend or holiday: the levels apply at the next open
    if clock.source == "wall":
        st.caption(f"Levels timed by {clock.label}.")
    for row in positions.itertuples():
        if getattr(row, "legs", None):  # a structure of legs: its own card
            params = _params(engine, int(row.param_version))
            flatten_at = session.before_close(params.flatten_before_close_min)
            structure_card(engine, row, now, session, today is not None, flatten_at)
            continue
        pos = _position(row)
        params = _params(engine, int(row.param_version))
        bid = float(row.mark_bid)  # the entry price until the first bid is marked
        marked = bool(getattr(row, "marked", True))
        right = "call" if pos.direction > 0 else "put"
        with st.container(border=True):
            bid_text = f"bid {bid:.2f}" if marked else f"bid {bid:.2f} (entry price: no bid marked yet)"
            st.markdown(
                f"**{pos.contract.underlying} {pos.contract.strike:g} {right}** x{pos.qty_open} · "
                f"entry {pos.entry_price:.2f} · {bid_text} · P&L **{row.unrealized_pnl:+,.2f}**"
            )
            levels = exit_levels(pos, params, session)
            trail = (
                f"trailing floor {levels.trailing_floor:.2f}"
                if levels.trailing_floor is not None
                else f"trailing arms at {levels.trailing_arm_price:.2f}"
            )
            to_flatten = max((levels.flatten_at - now).total_seconds() / 60.0, 0.0)
            away = distance_to_stop_pct(bid, levels)
            st.markdown(
                f"stop {levels.stop_price:.2f} ({away:.0f}% below the bid) · take-profit "
                f"{levels.take_profit_price:.2f} (+{levels.take_profit_pct:.0f}%) · {trail}"
            )
            market = reads.latest_market(engine, pos.contract.underlying)
            greeks = ""
            if market and market.get("underlying_price") and market.get("vix"):
                left = max((session.close - now).total_seconds() / 60.0, 0.0)
                g = model_greeks(pos, float(market["underlying_price"]), float(market["vix"]), left)
                greeks = f"delta {g.delta:+.2f} · theta {g.theta_10min:+.2f} $/contract per 10 min (model) · "
            when = f"in {to_flatten:.0f} min" if today is not None else f"at the next open, {session.day:%a %Y-%m-%d}"
            st.caption(dollars(f"{greeks}flatten at {levels.flatten_at:%H:%M} ET, {when}"))


def log_tail(path: str, lines: int = 30) -> list[str]:
    """The worker's newest log lines (the file `make run` and compose write), or none."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(size - 64_000, 0))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]
