"""Plotly figure builders. Each takes a small, already aggregated frame and returns a figure
sized by its container (so it fits a phone's width); none of them touches the database."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

MARKET_TZ = "America/New_York"
GREEN, RED, BLUE, GREY = "#2e7d32", "#c62828", "#1565c0", "#757575"
ACTION_COLOURS = {"hold": GREY, "buy_call": GREEN, "buy_put": RED, "close": BLUE}


def _layout(fig: go.Figure, title: str, height: int = 320) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
        height=height,
        autosize=True,
        margin={"l": 8, "r": 36, "t": 40, "b": 8},
        legend={"orientation": "h", "y": -0.15},
        modebar={"orientation": "v"},  # down the right edge: on a phone it no longer covers the title
    )
    return fig


# Hide nights and weekends on time axes (the market's hours, New York time).
MARKET_HOURS_ONLY = [{"bounds": ["sat", "mon"]}, {"bounds": [16, 9.5], "pattern": "hour"}]


def _ny(times: pd.Series) -> pd.Series:
    return times.dt.tz_convert(MARKET_TZ) if len(times) else times


def _with_drawdown(x: pd.Series, top: pd.Series, bottom: pd.Series, names: tuple[str, str], title: str) -> go.Figure:
    """A line on top and its drawdown (filled) below, sharing the time axis."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04)
    fig.add_trace(go.Scatter(x=x, y=top, name=names[0], line={"color": BLUE}), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=bottom, name=names[1], fill="tozeroy", line={"color": RED}), row=2, col=1)
    return _layout(fig, title, 360)


def equity_with_drawdown(curve: pd.DataFrame) -> go.Figure:
    """Equity on top, drawdown from the running peak (%) below; nights and weekends hidden."""
    fig = _with_drawdown(
        _ny(curve["time"]), curve["equity"], curve["drawdown_pct"], ("equity", "drawdown %"), "Equity and drawdown"
    )
    fig.update_xaxes(rangebreaks=MARKET_HOURS_ONLY)
    return fig


def cumulative_pnl(points: pd.DataFrame) -> go.Figure:
    """Cumulative realized P&L with its drawdown (dollars); nights and weekends hidden."""
    fig = _with_drawdown(
        _ny(points["time"]),
        points["cum_pnl"],
        points["drawdown"],
        ("cumulative P&L", "drawdown"),
        "Cumulative P&L and drawdown",
    )
    fig.update_xaxes(rangebreaks=MARKET_HOURS_ONLY)
    return fig


def pnl_bars(grouped: pd.DataFrame, column: str, title: str) -> go.Figure:
    """P&L per group, green for gains and red for losses, each bar labelled with its trade count
    and win rate (a bar of 2 trades must not look like a finding)."""
    colours = [GREEN if v > 0 else RED for v in grouped["pnl"]]
    labels = [f"n={int(n)} · {w:.0%}" for n, w in zip(grouped["trades"], grouped["win_rate"], strict=True)]
    fig = go.Figure(
        go.Bar(
            x=grouped[column].astype(str),
            y=grouped["pnl"],
            marker_color=colours,
            text=labels,
            textposition="auto",
            customdata=grouped[["trades", "win_rate"]].to_numpy(),
            hovertemplate="%{x}<br>P&L %{y:,.2f}<br>%{customdata[0]} trades, win rate %{customdata[1]:.0%}"
            "<extra></extra>",
        )
    )
    fig.update_xaxes(type="category")  # hours and buckets are labels, never a continuous 9.5 .. 10.5 axis
    return _layout(fig, title)


def distribution(hist: pd.DataFrame, title: str = "P&L per trade") -> go.Figure:
    colours = [GREEN if c > 0 else RED for c in hist["centre"]]
    fig = go.Figure(go.Bar(x=hist["centre"], y=hist["count"], width=hist["width"], marker_color=colours))
    return _layout(fig, title)


def scatter(trades: pd.DataFrame, x: str, y: str, title: str, x_label: str, y_label: str) -> go.Figure:
    """One point per trade (a sample when there are many), wins green and losses red."""
    fig = go.Figure()
    for outcome, colour in (("win", GREEN), ("loss", RED)):
        part = trades[trades["outcome"] == outcome]
        fig.add_trace(
            go.Scattergl(
                x=part[x], y=part[y], mode="markers", name=outcome, marker={"color": colour, "size": 5, "opacity": 0.6}
            )
        )
    fig.update_xaxes(title_text=x_label)
    fig.update_yaxes(title_text=y_label)
    return _layout(fig, title)


def stacked_counts(counts: pd.DataFrame, x: str, title: str, colours: dict[str, str] | None = None) -> go.Figure:
    """Counts per `x` (day or hour), stacked by value (an action or a block code)."""
    fig = go.Figure()
    if not counts.empty:
        table = counts.groupby([x, "value"])["count"].sum().unstack(fill_value=0)
        for value in table.columns:
            fig.add_trace(
                go.Bar(
                    x=table.index.astype(str), y=table[value], name=str(value), marker_color=(colours or {}).get(value)
                )
            )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(type="category")
    return _layout(fig, title)


def probabilities(series: pd.DataFrame) -> go.Figure:
    """The policy's probabilities and confidence (left axis) against the underlying (right axis)."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x = _ny(series["time"])
    for column, name in (("p_buy_call", "buy_call"), ("p_buy_put", "buy_put"), ("p_close", "close")):
        fig.add_trace(go.Scatter(x=x, y=series[column], name=f"p({name})", line={"color": ACTION_COLOURS[name]}))
    fig.add_trace(go.Scatter(x=x, y=series["confidence"], name="confidence", line={"color": "#6a1b9a", "dash": "dot"}))
    fig.add_trace(
        go.Scatter(x=x, y=series["underlying_price"], name="underlying", line={"color": "#212121"}), secondary_y=True
    )
    fig.update_yaxes(range=[0, 1], title_text="probability", secondary_y=False)
    fig.update_yaxes(title_text="underlying", secondary_y=True)
    fig.update_xaxes(rangebreaks=MARKET_HOURS_ONLY)
    return _layout(fig, "Probabilities and confidence against the underlying", 380)


def interval_bars(frame: pd.DataFrame, label: str, value: str, lo: str, hi: str, title: str) -> go.Figure:
    """One bar per row with its confidence interval as an error bar (missing bounds: no bar)."""
    colours = [GREEN if v >= 0 else RED for v in frame[value].fillna(0)]
    fig = go.Figure(
        go.Bar(
            x=frame[label],
            y=frame[value],
            marker_color=colours,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (frame[hi] - frame[value]).fillna(0),
                "arrayminus": (frame[value] - frame[lo]).fillna(0),
            },
        )
    )
    return _layout(fig, title)


def slippage_histogram(costs: pd.Series, title: str = "Live minus simulated fill, $ per contract") -> go.Figure:
    """Each real fill's cost against the simulated one (positive: live was worse)."""
    fig = go.Figure(go.Histogram(x=costs, nbinsx=30, marker={"color": BLUE}))
    fig.add_vline(x=0.0, line={"color": GREY, "dash": "dot"})
    return _layout(fig, title)


def side_by_side_bars(frame: pd.DataFrame, title: str) -> go.Figure:
    """One bar per column for each index value (the active and the edited run, day by day)."""
    fig = go.Figure()
    for column, colour in zip(frame.columns, (GREY, BLUE), strict=False):
        fig.add_trace(go.Bar(x=frame.index, y=frame[column], name=str(column), marker={"color": colour}))
    fig.update_layout(barmode="group")
    return _layout(fig, title)


def price_with_trades(series: pd.DataFrame, trades: pd.DataFrame, title: str) -> go.Figure:
    """The underlying through one day (the price each cycle decided on) with each trade's entry
    (triangle: up for a call, down for a put) and exit (circle: green won, red lost); a point's
    customdata is its trade id, so a click can open that trade."""
    fig = go.Figure(go.Scatter(x=_ny(series["time"]), y=series["underlying_price"], name="price", line={"color": GREY}))
    if not trades.empty and not series.empty:
        prices = series.set_index("time")["underlying_price"].sort_index()
        prices = prices[~prices.index.duplicated(keep="last")]  # several runs may have decided that minute
        for when, name in (("entry_time", "entry"), ("exit_time", "exit")):
            times = trades[when]
            at = prices.reindex(times, method="ffill").to_numpy()
            won = trades["realized_pnl"].to_numpy() > 0
            if name == "entry":
                marker = {
                    "symbol": ["triangle-up" if d > 0 else "triangle-down" for d in trades["direction"]],
                    "size": 12,
                    "color": BLUE,
                }
            else:
                marker = {"symbol": "circle", "size": 10, "color": [GREEN if w else RED for w in won]}
            fig.add_trace(
                go.Scatter(
                    x=_ny(times),
                    y=at,
                    mode="markers",
                    name=name,
                    marker=marker,
                    customdata=trades["id"].to_numpy(),
                    hovertemplate=f"trade %{{customdata}} {name}<br>%{{x|%H:%M}} ET<br>%{{y:.2f}}<extra></extra>",
                )
            )
    fig.update_xaxes(title_text="ET")
    return _layout(fig, title, 340)


def reliability(
    buckets: pd.DataFrame, title: str = "Reliability: entry confidence against realised win rate"
) -> go.Figure:
    """Each confidence bucket's realised win rate (with its trade count) beside the diagonal a
    calibrated confidence would follow."""
    taken = buckets[buckets["trades taken"] > 0]
    mids = [sum(float(x) for x in str(b).split("-")) / 2.0 for b in taken["confidence"]]
    fig = go.Figure(
        [
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="calibrated", line={"color": GREY, "dash": "dot"}),
            go.Scatter(
                x=mids,
                y=taken["win rate"],
                mode="lines+markers+text",
                text=[f"n={n}" for n in taken["trades taken"]],
                textposition="top center",
                name="realised",
                line={"color": BLUE},
            ),
        ]
    )
    fig.update_xaxes(title_text="entry confidence", range=[0, 1])
    fig.update_yaxes(title_text="win rate", range=[0, 1])
    return _layout(fig, title)
