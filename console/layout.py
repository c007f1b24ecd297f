"""Layout helpers that keep a phone's first screen useful: metrics two a row instead of one, and
tables whose default columns are the ones a trader acts on, sized to fit a 390 px screen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
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
# A 390 px phone leaves 358 px to a table (16 px margins) and the grid's border takes 2: the
# default columns of a table must fit in what is left, or the last of them hide off to the side.
PHONE_TABLE_PX = 350
SELECT_COLUMN_PX = 30  # the checkbox column of a table whose rows can be selected


def compact_grid(name: str) -> DeltaGenerator:
    """A container whose st.columns rows wrap two metrics a row on a phone."""
    st.html(COMPACT_CSS)
    return st.container(key=f"compact_{name}")


def page_path(name: str) -> str:
    """A page's file as app.py hands it to st.navigation (absolute), for st.page_link."""
    return str(Path(__file__).resolve().parents[1] / "pages" / f"{name}.py")


@dataclass(frozen=True)
class PhoneColumns:
    """The columns of a table a trader acts on, in order, each with its width in pixels: together
    no wider than PHONE_TABLE_PX, so on a phone none of them is off to the side. The table's other
    columns are one toggle away ("All columns")."""

    widths: tuple[tuple[str, int], ...]
    selectable: bool = False  # rows selectable: the checkbox column takes its share of the width

    def __post_init__(self) -> None:
        room = PHONE_TABLE_PX - (SELECT_COLUMN_PX if self.selectable else 0)
        total = sum(w for _, w in self.widths)
        if total > room:
            raise ValueError(f"{total} px of columns do not fit the {room} px a phone leaves them")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.widths)

    def order(self, frame: pd.DataFrame) -> list[str]:
        """The phone's columns that `frame` has, in order (st.dataframe's column_order)."""
        return [name for name in self.names if name in frame.columns]

    def config(self) -> dict[str, Any]:
        """st.dataframe's column_config: each phone column at its width."""
        return {name: st.column_config.Column(width=width) for name, width in self.widths}


def phone_table(frame: pd.DataFrame, columns: PhoneColumns, every: bool, **kwargs: Any) -> Any:
    """`frame` as a dataframe showing only `columns` at their widths (all of them with `every`);
    kwargs go to st.dataframe (selection, key)."""
    order = None if every else columns.order(frame)
    config = None if every else columns.config()
    return st.dataframe(frame, column_order=order, column_config=config, hide_index=True, width="stretch", **kwargs)
