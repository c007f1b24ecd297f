"""Decisions: why did it (not) trade? Final actions and block codes by day and hour, the policy's
probabilities against the underlying, and any single decision's full record."""

from __future__ import annotations

import streamlit as st

from console import charts, data
from console.decision_record import RECORD_COLUMNS, outcome, readable
from console.formatting import in_new_york
from console.layout import PhoneColumns, phone_table
from console.login import require_gate
from core.calendar import last_sessions
from core.types import PriceSource
from db import decision_reads
from db.decision_reads import DecisionFilter
from db.engine import database_url

DEFAULT_SESSIONS = 5  # the default window: recent sessions, so a million-row table stays quick
PRICE_SOURCES = [s.value for s in PriceSource]


def filters(url: str) -> DecisionFilter | None:
    last = data.last_decision_day(url)
    if last is None:
        return None
    with st.expander("Filters", expanded=False):  # closed: on a phone they would fill the first screen
        first = last_sessions(last, DEFAULT_SESSIONS)[0].day
        chosen = st.date_input("Date range", value=(first, last), key="d_dates")
        cols = st.columns(3)
        symbols = cols[0].multiselect("Symbol", ["SPY", "QQQ"], key="d_symbols")
        codes = cols[1].multiselect("Block code", ["(none)", *data.block_codes(url)], key="d_codes")
        sources = cols[2].multiselect("Option priced from", ["(none)", *PRICE_SOURCES], key="d_sources")
    start, end = chosen if isinstance(chosen, tuple) and len(chosen) == 2 else (last, last)
    return DecisionFilter(start, end, tuple(symbols), tuple(codes), tuple(sources))


def counts(url: str, f: DecisionFilter) -> None:
    actions = data.decision_counts(url, f, "final_action")
    blocks = data.decision_counts(url, f, "blocked_by")
    st.caption(f"{int(actions['count'].sum()):,} decisions, {int(blocks['count'].sum()):,} blocked entries.")
    holds = int(actions.loc[actions["value"] == "hold", "count"].sum()) if not actions.empty else 0
    acted = actions[actions["value"] != "hold"] if not actions.empty else actions
    title = f"Final actions other than hold ({holds:,} holds not drawn)"
    by_day, by_hour = st.tabs(["By day", "By hour (ET)"])
    with by_day:
        st.plotly_chart(charts.stacked_counts(acted, "day", title, charts.ACTION_COLOURS), width="stretch", key="a_day")
        st.plotly_chart(charts.stacked_counts(blocks, "day", "Block codes"), width="stretch", key="b_day")
    with by_hour:
        st.plotly_chart(charts.stacked_counts(acted, "hour", title, charts.ACTION_COLOURS), width="stretch", key="a_hr")
        st.plotly_chart(charts.stacked_counts(blocks, "hour", "Block codes"), width="stretch", key="b_hr")


def probabilities(url: str, f: DecisionFilter) -> None:
    symbol = st.radio("Symbol for the probability chart", ["SPY", "QQQ"], horizontal=True, key="d_series_symbol")
    series = data.decision_series(url, DecisionFilter(f.start, f.end, (symbol,), f.codes))
    if series.empty:
        st.write(f"No {symbol} decision in this range.")
        return
    if len(series) >= decision_reads.SERIES_LIMIT:
        st.caption(f"The newest {len(series):,} decisions of the range.")
    st.plotly_chart(charts.probabilities(series), width="stretch")


# At a glance, within a phone's width: when (month-day and time), what it finally did, how sure,
# and what blocked it; the symbol and the rest one toggle away.
NARROW_COLUMNS = PhoneColumns((("time (ET)", 95), ("final_action", 80), ("confidence", 55), ("blocked_by", 120)))


def one_decision(f: DecisionFilter) -> None:
    st.subheader("Decisions")
    latest = decision_reads.latest(data.reader(), f)
    shown = in_new_york(latest)
    every = st.toggle("All columns", key="decision_all_columns", help="Off: the columns that fit a phone")
    if not every and "time (ET)" in shown.columns:
        shown["time (ET)"] = shown["time (ET)"].str[5:]  # month-day and time
    phone_table(shown, NARROW_COLUMNS, every)
    default = int(latest["id"].iloc[0]) if len(latest) else 1
    decision_id = st.number_input("Decision id", min_value=1, value=default, step=1, key="decision_id")
    record = decision_reads.decision(data.reader(), int(decision_id))
    if record is None:
        st.warning(f"No decision {decision_id}.")
    else:
        simulated = record.get("run_mode") == "sim"  # a simulator's run: its clock is simulated
        st.markdown(outcome(record))
        phone_table(readable(record, simulated), RECORD_COLUMNS, every=False)


require_gate()
st.title("Decisions")
url = database_url()
chosen = filters(url)
if chosen is None:
    st.info("No decision recorded yet: start the worker (`make run`).")
else:
    counts(url, chosen)
    probabilities(url, chosen)
    one_decision(chosen)
