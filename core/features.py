"""Incremental, causal features per symbol: each completed bar updates O(1) running state.

The same engine serves the live worker, the backtest and (later) the RL environment, so the
features cannot drift between them. A feature at bar t depends only on bars <= t and on the
VIX known when bar t closed: nothing is ever recomputed from later bars.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from core.protocols import BarView

FEATURE_NAMES: tuple[str, ...] = (
    "ret_1m",  # log return of the bar, %
    "range_pct",  # (high - low) / close, %
    "volume_z",  # volume z-score against the last 30 bars
    "vwap_dist_pct",  # (close - session VWAP) / VWAP, %
    "rsi_14",  # Wilder RSI, 0..100
    "atr_pct",  # Wilder ATR(14) / close, %
    "vix",  # VIX level
    "vix_change_pct",  # VIX against the session's first value, %
    "minutes_to_close",
    "trend_pct",  # (EMA9 - EMA21) / close, %
    "rv_annual_pct",  # realized volatility of 1-minute returns over 30 bars, annualised %
)
WINDOW = 20
_RV_BARS = 30
_ANNUALISE = math.sqrt(390 * 252)


class _Rolling:
    """Mean and sample deviation over the last `size` values, updated in O(1)."""

    __slots__ = ("size", "total", "total_sq", "values")

    def __init__(self, size: int) -> None:
        self.values: deque[float] = deque(maxlen=size)
        self.size = size
        self.total = 0.0
        self.total_sq = 0.0

    @property
    def count(self) -> int:
        return len(self.values)

    def push(self, value: float) -> None:
        values = self.values
        if len(values) == self.size:
            old = values[0]
            self.total -= old
            self.total_sq -= old * old
        values.append(value)
        self.total += value
        self.total_sq += value * value

    def std(self) -> float:
        n = len(self.values)
        if n < 2:
            return 0.0
        mean = self.total / n
        return math.sqrt(max((self.total_sq - n * mean * mean) / (n - 1), 0.0))

    def zscore(self, value: float) -> float:
        sd = self.std()
        return 0.0 if sd <= 1e-12 else (value - self.total / len(self.values)) / sd


@dataclass(slots=True)
class _State:
    """Running sums and smoothed values of one session."""

    bars_seen: int = 0
    prev_close: float = float("nan")
    pv_sum: float = 0.0
    v_sum: float = 0.0
    avg_gain: float = 0.0
    avg_loss: float = 0.0
    atr: float = 0.0
    ema_fast: float = float("nan")
    ema_slow: float = float("nan")
    vix_first: float = float("nan")
    vols: _Rolling = field(default_factory=lambda: _Rolling(_RV_BARS))
    rets: _Rolling = field(default_factory=lambda: _Rolling(_RV_BARS))
    rows: deque[tuple[float, ...]] = field(default_factory=lambda: deque(maxlen=WINDOW))


class FeatureEngine:
    """Feeds on a symbol's completed bars; `observe` returns the latest feature row."""

    def __init__(self) -> None:
        self._state = _State()
        self._session_day: object = None
        self._close_ts = 0.0

    @property
    def bars_seen(self) -> int:
        return self._state.bars_seen

    def reset(self) -> None:
        self._state = _State()
        self._session_day = None

    def catch_up(self, view: BarView, vix: float) -> None:
        """Consume every completed bar not yet seen (one per cycle live, more after a restart)."""
        bars = view.bars
        if bars.session.day != self._session_day:
            self.reset()
            self._session_day = bars.session.day
            self._close_ts = bars.session.close.timestamp()
        close_ts = self._close_ts
        for i in range(self._state.bars_seen, view.count):
            minutes_left = (close_ts - float(bars.start[i]) - 60.0) / 60.0
            self._update(
                float(bars.high[i]), float(bars.low[i]), float(bars.close[i]), float(bars.volume[i]), vix, minutes_left
            )

    def _update(self, high: float, low: float, close: float, volume: float, vix: float, minutes_left: float) -> None:
        s = self._state
        n = s.bars_seen + 1
        prev = s.prev_close if n > 1 else close
        ret = math.log(close / prev) * 100.0 if prev > 0 and close > 0 else 0.0
        true_range = max(high - low, abs(high - prev), abs(low - prev))
        gain, loss = max(close - prev, 0.0), max(prev - close, 0.0)
        alpha = 1.0 / 14.0 if n > 14 else 1.0 / n
        s.avg_gain += alpha * (gain - s.avg_gain)
        s.avg_loss += alpha * (loss - s.avg_loss)
        s.atr += alpha * (true_range - s.atr)
        if n == 1:
            s.ema_fast = s.ema_slow = close
            s.vix_first = vix
        else:
            s.ema_fast += (2.0 / 10.0) * (close - s.ema_fast)
            s.ema_slow += (2.0 / 22.0) * (close - s.ema_slow)
        s.pv_sum += close * volume
        s.v_sum += volume
        vwap = s.pv_sum / s.v_sum if s.v_sum > 0 else close
        vols, rets = s.vols, s.rets
        volume_z = vols.zscore(volume) if len(vols.values) >= 5 else 0.0
        vols.push(volume)
        if n > 1:
            rets.push(ret)
        rsi = 50.0 if s.avg_gain + s.avg_loss == 0 else 100.0 * s.avg_gain / (s.avg_gain + s.avg_loss)
        rv = rets.std() * _ANNUALISE if len(rets.values) >= 5 else 0.0
        s.rows.append(
            (
                ret,
                (high - low) / close * 100.0,
                volume_z,
                (close - vwap) / vwap * 100.0,
                rsi,
                s.atr / close * 100.0,
                vix,
                (vix / s.vix_first - 1.0) * 100.0 if s.vix_first > 0 else 0.0,
                minutes_left,
                (s.ema_fast - s.ema_slow) / close * 100.0,
                rv,
            )
        )
        s.prev_close = close
        s.bars_seen = n

    def latest(self) -> dict[str, float]:
        """The newest feature row by name (empty before the first bar)."""
        if not self._state.rows:
            return {}
        return dict(zip(FEATURE_NAMES, self._state.rows[-1], strict=False))

    def window(self) -> np.ndarray:
        """The last WINDOW rows (oldest first), zero-padded at the start of a session."""
        rows = list(self._state.rows)
        out = np.zeros((WINDOW, len(FEATURE_NAMES)), dtype=np.float32)
        if rows:
            out[WINDOW - len(rows) :] = np.asarray(rows, dtype=np.float32)
        return out
