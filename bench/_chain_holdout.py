"""The calibration's chain days split at the held-out tail (core/market/holdout.py): the fit sees
the earlier days only, unless told (--include-held-out)."""

from __future__ import annotations

from bench._chain_days import ChainDays
from bench._day_vol_fit import day_of_quotes
from core.market.holdout import chain_day_split


def split_chain_days(data: ChainDays) -> tuple[ChainDays, ChainDays]:
    """(the days a fit may see, the held-out tail), each with its own quotes and snapshots."""
    tail = set(chain_day_split(list(data.snapshots["day"])).held_out)
    in_tail_q = day_of_quotes(data.quotes, data.snapshots)
    q_mask = [d in tail for d in in_tail_q]
    s_mask = [d in tail for d in data.snapshots["day"]]
    seen = ChainDays(
        data.quotes[[not m for m in q_mask]].reset_index(drop=True),
        data.snapshots[[not m for m in s_mask]].reset_index(drop=True),
        data.refused,
        data.event_terms,  # from SPY's realized days before the first chain day: no quote of the tail
    )
    held = ChainDays(
        data.quotes[q_mask].reset_index(drop=True),
        data.snapshots[s_mask].reset_index(drop=True),
        data.refused,
        data.event_terms,
    )
    return seen, held
