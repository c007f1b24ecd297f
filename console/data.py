"""Engines for the console, created once per process (st.cache_resource)."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from db.control import bootstrap
from db.engine import database_url, make_engine
from db.migrate import upgrade


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
