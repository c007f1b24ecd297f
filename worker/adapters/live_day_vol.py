"""The same-day vol a live chain falls back on where the feed leaves a contract without greeks.

Alpaca's option snapshots carry an implied vol and greeks for most contracts, not all (a contract
that has not traded, or one the feed could not solve). Such a contract still needs a delta for
strike selection. In order of how close each is to the market at that minute:

1. the feed's own at-the-money implied vol that minute (the median IV of the contracts nearest the
   money that have one): the market's price of same-day vol, read off the same chain;
2. the day-vol model (core/options/day_vol.py) on yfinance's `^VIX1D` and `^VIX` session opens and
   the live VIX, as the simulator prices past days from the shared index files;
3. the model on the VIX alone (no VIX1D print today). The fitted model weighs VIX1D's open by
   DAY_VOL_MODEL.vix1d, 0 since held out it made the error worse, so 2 and 3 now give the same vol
   and differ only in the label.

Each answer says which it was, so a decision priced off the model is never mistaken for one priced
off the market.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from core.options.day_vol import same_day_vol
from worker.adapters.yahoo import YahooSource, YahooUnavailableError

log = logging.getLogger("worker.alpaca")
VIX1D_TICKER = "^VIX1D"
VIX_TICKER = "^VIX"
ATM_CONTRACTS = 4  # the feed IVs nearest the money that set the at-the-money level


@dataclass(frozen=True)
class DayVol:
    """An annualised same-day vol (0.16 = 16%) and where it came from."""

    vol: float
    source: str  # "feed_atm_iv", "vix1d_model", "vix_scaled" or "none"


def feed_atm_iv(spot: float, strikes: np.ndarray, iv: np.ndarray) -> float:
    """The median of the feed's IVs on the ATM_CONTRACTS contracts nearest `spot` that have one."""
    good = np.isfinite(iv) & (iv > 0.0)
    if not good.any() or not math.isfinite(spot):
        return math.nan
    distance = np.abs(strikes[good] - spot)
    nearest = np.argsort(distance, kind="stable")[:ATM_CONTRACTS]
    return float(np.median(iv[good][nearest]))


class LiveDayVol:
    """Session opens of ^VIX and ^VIX1D from yfinance (once a day) and the fallback vol for a minute."""

    def __init__(self, yahoo: YahooSource) -> None:
        self.yahoo = yahoo
        self._opens: dict[tuple[str, date], float] = {}

    def session_open(self, ticker: str, day: date) -> float:
        """`ticker`'s first print of `day` (NaN when yfinance has no row for it yet)."""
        key = (ticker, day)
        if key not in self._opens:
            try:
                value = self.yahoo.daily_open(ticker, day)
            except YahooUnavailableError as exc:
                log.warning("no %s open for %s (%s)", ticker, day, exc)
                value = math.nan
            if math.isfinite(value):  # a missing open is asked again next minute; a known one is kept
                self._opens[key] = value
            return value
        return self._opens[key]

    def fallback(self, day: date, vix_now: float, spot: float, strikes: np.ndarray, iv: np.ndarray) -> DayVol:
        """The vol for contracts the feed left without an IV (see the module's docstring)."""
        atm = feed_atm_iv(spot, strikes, iv)
        if math.isfinite(atm):
            return DayVol(atm, "feed_atm_iv")
        if not math.isfinite(vix_now) or vix_now <= 0.0:
            return DayVol(math.nan, "none")
        vix1d_open = self.session_open(VIX1D_TICKER, day)
        points = same_day_vol(vix_now, self.session_open(VIX_TICKER, day), vix1d_open)
        return DayVol(points / 100.0, "vix1d_model" if math.isfinite(vix1d_open) else "vix_scaled")
