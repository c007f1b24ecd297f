"""Layout helpers that keep a phone's first screen useful: metrics two a row instead of one."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

# Streamlit stacks columns below 640 px; inside a compact grid they wrap two a row instead.
COMPACT_CSS = """
<style>
[class*="st-key-compact_"] [data-testid="stHorizontalBlock"] { flex-wrap: wrap; row-gap: 0.25rem; }
[class*="st-key-compact_"] [data-testid="stColumn"] { min-width: 45% !important; flex: 1 1 45%; }
[class*="st-key-compact_"] [data-testid="stMetricValue"] { font-size: 1.3rem; }
@media (min-width: 900px) {
  [class*="st-key-compact_"] [data-testid="stColumn"] { min-width: 0 !important; flex: 1 1 0; }
}
</style>
"""


def compact_grid(name: str) -> DeltaGenerator:
    """A container whose st.columns rows wrap two metrics a row on a phone."""
    st.html(COMPACT_CSS)
    return st.container(key=f"compact_{name}")


def page_path(name: str) -> str:
    """A page's file as app.py hands it to st.navigation (absolute), for st.page_link."""
    return str(Path(__file__).resolve().parents[1] / "pages" / f"{name}.py")
