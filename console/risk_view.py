"""The risk of the positions held now, for the Overview and the Risk page: net dollar greeks, the
shock grid (the underlying -2% to +2% over the next 5, 15 and 30 minutes, with the vol moving by
the calibrated relation and the decay of those minutes, priced by the simulator's model), each
defined-risk structure's maximum loss, and VaR and expected shortfall of a day's P&L from the
recorded days (core/risk/book.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from console.formatting import dollars
from core.calendar import session_for
from core.params import TradingParams
from core.risk.book import BookRisk, book_risk, value_at_risk
from core.risk.shock import HeldLeg
from core.types import OptionContract
from db import reads, risk_reads


@dataclass(frozen=True)
class RiskNow:
    """The book's risk at the worker's clock, or why there is none."""

    legs: list[HeldLeg]
    risk: BookRisk | None
    spots: dict[str, float]
    vix: float | None
    minutes_left: float
    note: str = ""


def held_legs(held: pd.DataFrame) -> list[HeldLeg]:
    """Every contract the open trades hold, signed: a single option's contract, a structure's legs."""
    legs: list[HeldLeg] = []
    for row in held.itertuples():
        qty = int(row.qty_open)
        if row.legs:  # a structure: its legs' ratios per structure
            legs += [HeldLeg(OptionContract.from_symbol(str(g["symbol"])), int(g["ratio"]) * qty) for g in row.legs]
        elif qty:
            legs.append(HeldLeg(OptionContract.from_symbol(str(row.contract)), qty))
    return legs


def risk_now(engine: Any, held: pd.DataFrame, status: dict[str, Any] | None) -> RiskNow:
    legs = held_legs(held)
    if not legs:
        return RiskNow(legs, None, {}, None, 0.0, "No position held: no risk on the book.")
    clock = reads.market_clock(engine, status).now
    session = session_for(clock.date())
    spots, vix = risk_reads.latest_spots(engine, sorted({leg.contract.underlying for leg in legs}))
    if session is None or vix is None or len(spots) < len({leg.contract.underlying for leg in legs}):
        return RiskNow(legs, None, spots, vix, 0.0, "No market view for a held underlying yet.")
    minutes = max((session.close - clock).total_seconds() / 60.0, 0.0)
    return RiskNow(legs, book_risk(legs, spots, vix, minutes), spots, vix, minutes)


def greeks_row(now: RiskNow, equity: float | None) -> None:
    """Net delta, gamma, vega and theta in dollars, and the worst shock, as metrics."""
    if now.risk is None:
        st.caption(dollars(now.note))
        return
    g, worst = now.risk.greeks, now.risk.worst
    cols = st.columns(5)
    cols[0].metric("Net delta $ / 1%", f"{g.delta_usd:+,.0f}", help="What a +1% move of the underlying makes")
    cols[1].metric("Net gamma $ / 1%", f"{g.gamma_usd:+,.0f}", help="How much the delta $ changes for a 1% move")
    cols[2].metric("Vega $ / vol pt", f"{g.vega_usd:+,.0f}")
    cols[3].metric("Theta $ / 10 min", f"{g.theta_usd:+,.0f}")
    label = "-" if worst is None else f"{worst.pnl:+,.0f}"
    share = "" if worst is None or not equity else f" ({worst.pnl / equity * 100:+.1f}% of equity)"
    cols[4].metric("Worst shock $", label, help=f"The shock grid's worst cell{share}")
    st.caption(f"Model greeks at the newest prices ({', '.join(f'{u} {s:.2f}' for u, s in now.spots.items())}, "
               f"VIX {now.vix:.2f}), {now.minutes_left:.0f} minutes to the close.")  # fmt: skip


def shock_chart(risk: BookRisk) -> go.Figure:
    """The shock grid as a heat map: moves across, horizons down, P&L in each cell."""
    moves = sorted({s.move_pct for s in risk.grid})
    horizons = sorted({s.horizon_min for s in risk.grid})
    cell = {(s.move_pct, s.horizon_min): s.pnl for s in risk.grid}
    z = [[cell[(m, h)] for m in moves] for h in horizons]
    fig = go.Figure(go.Heatmap(z=z, x=[f"{m:+g}%" for m in moves], y=[f"{h} min" for h in horizons],
                               colorscale="RdYlGn", zmid=0.0, text=[[f"{v:+,.0f}" for v in r] for r in z],
                               texttemplate="%{text}", colorbar=dict(title="$")))  # fmt: skip
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="underlying move",
                      yaxis_title="within")  # fmt: skip
    return fig


def structures_max_loss(held: pd.DataFrame) -> pd.DataFrame:
    """Each defined-risk structure held: its maximum loss and gain at expiry for what is open."""
    rows = [
        {"trade": int(r.id), "structure": r.structure, "underlying": r.underlying, "open": int(r.qty_open),
         "max loss $": float(r.max_loss or 0.0) * int(r.qty_open) / max(int(r.entry_qty), 1),
         "max gain $": float(r.max_gain or 0.0) * int(r.qty_open) / max(int(r.entry_qty), 1)}
        for r in held.itertuples() if r.legs
    ]  # fmt: skip
    return pd.DataFrame(rows)


def var_line(engine: Any) -> str:
    days = risk_reads.daily_realized(engine)
    found = value_at_risk(days)
    if found is None:
        return f"VaR and expected shortfall need ten recorded days; {len(days)} so far."
    var, es, n = found
    return f"One-day 95% VaR {var:,.0f} $, expected shortfall {es:,.0f} $ (historical, {n} recorded days)."


def limits_line(params: TradingParams, equity: float | None) -> str:
    base = equity or 0.0
    parts = [
        ("net delta", params.max_book_delta_pct), ("net gamma", params.max_book_gamma_pct),
        ("worst shock loss", params.max_shock_loss_pct),
    ]  # fmt: skip
    text = ", ".join(f"{name} {pct:g}% of equity ({base * pct / 100:,.0f} $)" if pct else f"{name} off"
                     for name, pct in parts)  # fmt: skip
    return f"Entry limits: {text}. An entry that would break one is blocked (risk_delta, risk_gamma, risk_shock)."
