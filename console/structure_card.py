"""An open structure as a card: its legs, the net credit or debit, the mark and P&L, the maximum
loss and gain at expiry, the breakevens, how far the underlying is from each short strike, the
greeks summed over the legs, and the payoff at expiry and now (by the model) drawn over the
underlying's range (core/structures/payoff.py, greeks.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from console.formatting import dollars
from core.calendar import Session
from core.structures.greeks import structure_greeks, value_now
from core.structures.payoff import payoff, pnl_at_expiry
from core.structures.types import Structure
from db import reads


def payoff_chart(
    structure: Structure, entry: float, qty: int, spot: float | None, now_at: tuple[float, float] | None = None
) -> go.Figure:
    """P&L at expiry over the underlying's range and, with (VIX, minutes left), now by the model."""
    strikes = [leg.contract.strike for leg in structure.legs]
    pad = max(max(strikes) - min(strikes), 5.0)
    xs = np.linspace(min(strikes) - pad, max(strikes) + pad, 121)
    ys = [pnl_at_expiry(structure, entry, float(x), qty) for x in xs]
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines", name="at expiry"))
    if now_at is not None:
        values = value_now(structure, [float(x) for x in xs], *now_at)
        fig.add_trace(go.Scatter(x=xs, y=[(v - entry) * 100 * qty for v in values], mode="lines", name="now (model)"))
    fig.add_hline(y=0.0, line_width=1, line_color="grey")
    if spot is not None:
        fig.add_vline(x=spot, line_dash="dot", annotation_text=f"{structure.underlying} {spot:.2f}")
    fig.update_layout(height=240, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="underlying",
                      yaxis_title="P&L $", legend=dict(orientation="h", y=1.1))  # fmt: skip
    return fig


def structure_card(engine: Any, row: Any, now: datetime, session: Session, today: bool, flatten_at: datetime) -> None:
    structure = Structure.from_rows(str(row.structure), row.legs or [])
    entry, qty = float(row.entry_avg), int(row.qty_open)
    shape = payoff(structure, entry, max(qty, 1))
    market = reads.latest_market(engine, structure.underlying)
    spot = float(market["underlying_price"]) if market and market.get("underlying_price") else None
    vix = float(market["vix"]) if market and market.get("vix") else None
    left = max((session.close - now).total_seconds() / 60.0, 0.0) if today else 390.0
    credit = "credit" if entry < 0 else "debit"
    with st.container(border=True):
        st.markdown(
            f"**{structure.label}** x{qty} · {credit} {abs(entry):.2f} · mark {float(row.mark_bid):+.2f} · "
            f"P&L **{row.unrealized_pnl:+,.2f}**"
        )
        legs = " · ".join(f"{'+' if leg.ratio > 0 else ''}{leg.ratio} {leg.contract.symbol}" for leg in structure.legs)
        gain = "unlimited" if shape.max_gain == float("inf") else f"{shape.max_gain:,.2f}"
        evens = ", ".join(f"{b:.2f}" for b in shape.breakevens) or "none"
        st.markdown(f"legs {legs}  \nmax loss {shape.max_loss:,.2f} · max gain {gain} · breakevens {evens}")
        if spot is not None and structure.short_strikes:
            away = " · ".join(f"{k:g}: {(spot - k) / spot * 100:+.2f}%" for k in sorted(set(structure.short_strikes)))
            st.caption(f"{structure.underlying} {spot:.2f} from the short strikes: {away}")
        now_at = (vix, left) if vix is not None else None
        if spot is not None and now_at is not None:
            g = structure_greeks(structure, max(qty, 1), spot, vix, left)  # type: ignore[arg-type]
            st.caption(  # four dollar signs: escaped, or markdown would read math between them
                dollars(
                    f"delta {g.delta:+,.0f} $/$1 · gamma {g.gamma:+,.1f} · theta {g.theta_10min:+,.2f} $ per 10 min · "
                    f"vega {g.vega:+,.2f} $/vol pt (model, summed over the legs)"
                )
            )
        when = f"in {max((flatten_at - now).total_seconds() / 60.0, 0.0):.0f} min" if today else "at the next open"
        st.caption(f"flatten at {flatten_at:%H:%M} ET, {when}")
        chart = payoff_chart(structure, entry, max(qty, 1), spot, now_at if spot is not None else None)
        st.plotly_chart(chart, width="stretch", key=f"payoff_{row.id}")
