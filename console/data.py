"""Database access for the pages: engines once per process (st.cache_resource) and the heavy
reads cached for a few seconds (st.cache_data), keyed by the database URL and the filter."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from db import decision_reads, trade_reads
from db.control import bootstrap
from db.decision_reads import DecisionFilter
from db.engine import database_url, make_engine
from db.migrate import upgrade
from db.trade_reads import TradeFilter

ANALYSIS_TTL_S = 15  # trades and decision aggregates: fresh enough, and a filter change is instant


@st.cache_resource
def engines(url: str) -> tuple[Engine, Engine]:
    """(reader, writer) for the URL; the schema is migrated and seeded on first use."""
    upgrade(url)
    writer = make_engine(url, role="writer")
    bootstrap(writer)
    return make_engine(url, role="reader"), writer


def reader() -> Engine:
    return engines(database_url())[0]


def writer() -> Engine:
    return engines(database_url())[1]


@st.cache_data(ttl=ANALYSIS_TTL_S, show_spinner=False)
def trades(url: str, f: TradeFilter) -> pd.DataFrame:
    """The columns the analysis needs, for every filtered trade."""
    return trade_reads.trades(engines(url)[0], f, trade_reads.ANALYSIS_COLUMNS)


@st.cache_data(ttl=ANALYSIS_TTL_S, show_spinner=False)
def newest_trades(url: str, f: TradeFilter, limit: int) -> pd.DataFrame:
    return trade_reads.newest(engines(url)[0], f, limit)


def trades_csv(url: str, f: TradeFilter) -> str:
    """Every filtered trade with every column, as CSV (built only when the download is clicked)."""
    return trade_reads.trades(engines(url)[0], f).to_csv(index=False)


@st.cache_data(ttl=ANALYSIS_TTL_S, show_spinner=False)
def trade_filter_options(url: str) -> dict[str, list[Any]]:
    return trade_reads.filter_options(engines(url)[0])


@st.cache_data(ttl=ANALYSIS_TTL_S, show_spinner=False)
def trade_date_range(url: str) -> tuple[date, date] | None:
    return trade_reads.trade_date_range(engines(url)[0])


@st.cache_data(ttl=ANALYSIS_TTL_S, show_spinner=False)
def decision_counts(url: str, f: DecisionFilter, by: str) -> pd.DataFrame:
    return decision_reads.counts(engines(url)[0], f, by)


@st.cache_data(ttl=ANALYSIS_TTL_S, show_spinner=False)
def decision_series(url: str, f: DecisionFilter) -> pd.DataFrame:
    return decision_reads.series(engines(url)[0], f)


@st.cache_data(ttl=ANALYSIS_TTL_S, show_spinner=False)
def block_codes(url: str) -> list[str]:
    return decision_reads.block_codes(engines(url)[0])


@st.cache_data(ttl=ANALYSIS_TTL_S, show_spinner=False)
def last_decision_day(url: str) -> date | None:
    return decision_reads.last_decision_day(engines(url)[0])
