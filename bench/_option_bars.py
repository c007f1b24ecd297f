"""Option minute bars made from the model for days that have no real ones, to time and test the
pricing-from-bars path where no vendor file covers the replayed days.

Each minute, the contracts of the model's chain get a one-price bar at `factor` times the model's
mid with probability `traded` (seeded): a market dearer than the model, trading most minutes near
the money, with gaps that the anchored pricing fills. Labelled for what it is: not real prices.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.calendar import Session
from core.market.sim_market import SimMarket, World
from core.options.bar_checks import CheckReport, check_bars
from core.options.history import OptionHistory
from core.types import OptionContract, Right


def model_option_bars(
    world: World,
    sessions: list[Session],
    cache: Path,
    factor: float = 1.3,
    traded: float = 0.6,
    strikes_each_side: int = 8,
    seed: int = 7,
) -> CheckReport:
    """Write bars for every session and symbol of `world` into the cache at `cache`."""
    market = SimMarket(world)
    rng = np.random.default_rng(seed)
    history = OptionHistory(cache)
    report = CheckReport()
    for session in sessions:
        rows: list[dict[str, object]] = []
        for minute in range(session.minutes - 1):
            now = session.at(minute)
            for symbol in world.symbols:
                chain = market.chain(symbol, now, strikes_each_side)
                if chain is None:
                    continue
                keep = rng.random(chain.strikes.size) < traded
                mids = np.maximum(np.round((chain.bid + chain.ask) / 2.0 * factor, 2), 0.01)
                stamp = now.replace(tzinfo=None)
                for k in np.flatnonzero(keep):
                    right = Right.CALL if chain.is_call[k] else Right.PUT
                    symbol_k = OptionContract(symbol, session.day, float(chain.strikes[k]), right).symbol
                    price = float(mids[k])
                    rows.append(
                        {"contract": symbol_k, "datetime": stamp, "open": price, "high": price, "low": price,
                         "close": price, "volume": 10}
                    )  # fmt: skip
        kept, checked = check_bars(pd.DataFrame(rows))
        report.merge(checked)
        history.add_checked(kept)
    return report
