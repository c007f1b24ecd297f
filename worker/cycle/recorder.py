"""Recording what the cycle saw, so a paper or live day can be replayed and compared.

Each cycle, for each underlying: the 1-minute bars completed since the last ones recorded (with
their source and whether the feed was degraded), VIX as the cycle read it, and the option
quotes of the traded expiry within `band_pct` of the money (bid, ask, sizes, IV and delta where
the feed has them, and the quote's own timestamp). The rows ride the journal's flush, in the
transaction that writes the cycle's decisions, so a crash records a minute whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from core.options.chain import ChainSnapshot
from core.protocols import BarView
from db.journal import Journal

VIX_SYMBOL = "VIX"
DEFAULT_BAND_PCT = 2.0


@dataclass
class MarketRecorder:
    journal: Journal
    band_pct: float = DEFAULT_BAND_PCT
    _last_bar: dict[str, float] = field(default_factory=dict)  # symbol -> newest recorded bar start
    _history_days: set[str] = field(default_factory=set)

    def record_vix_history(self, day: str, closes: np.ndarray) -> None:
        """The daily VIX closes behind the day's IV rank, once a day."""
        if day in self._history_days:
            return
        self._history_days.add(day)
        self.journal.record_vix_history(day, [float(c) for c in closes])

    def record_bars(self, symbol: str, view: BarView) -> int:
        """The completed bars not recorded yet; returns how many were added."""
        last = self._last_bar.get(symbol)
        if last is None:
            newest = self.journal.newest_bar_time(symbol)
            last = self._last_bar[symbol] = newest.timestamp() if newest else float("-inf")
        bars = view.bars
        start = bars.start[: view.count]
        fresh = np.nonzero(start > last)[0]
        for i in fresh:
            self.journal.add_bar(
                (
                    symbol,
                    datetime.fromtimestamp(float(start[i]), UTC),
                    float(bars.open[i]),
                    float(bars.high[i]),
                    float(bars.low[i]),
                    float(bars.close[i]),
                    float(bars.volume[i]),
                    view.source,
                    bool(view.degraded),
                )
            )
        if fresh.size:
            self._last_bar[symbol] = float(start[fresh[-1]])
        return int(fresh.size)

    def record_vix(self, now: datetime, vix: float, source: str, degraded: bool) -> None:
        """VIX as the cycle read it, as a one-price bar at the cycle's minute."""
        if not np.isfinite(vix):
            return
        minute = now.astimezone(UTC).replace(second=0, microsecond=0)
        if self._last_bar.get(VIX_SYMBOL) == minute.timestamp():
            return
        self._last_bar[VIX_SYMBOL] = minute.timestamp()
        self.journal.add_bar((VIX_SYMBOL, minute, vix, vix, vix, vix, 0.0, source, degraded))

    def record_quotes(self, now: datetime, chain: ChainSnapshot | None, source: str, degraded: bool) -> int:
        """The chain's quotes within the band around the money; returns how many."""
        if chain is None or not np.isfinite(chain.spot) or chain.spot <= 0:
            return 0
        near = np.nonzero(np.abs(chain.strikes / chain.spot - 1.0) * 100.0 <= self.band_pct)[0]
        for i in near:
            q = chain.quote(int(i))
            self.journal.add_quote(
                (
                    now,
                    q.time,
                    q.contract.underlying,
                    q.contract.symbol,
                    q.bid,
                    q.ask,
                    q.bid_size,
                    q.ask_size,
                    None if not np.isfinite(q.iv) else q.iv,
                    None if not np.isfinite(q.delta) else q.delta,
                    chain.spot,
                    source,
                    degraded,
                )
            )
        return int(near.size)
