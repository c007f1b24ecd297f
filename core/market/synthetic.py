"""A deterministic synthetic market: correlated SPY/QQQ minute bars, a daily VIX path and regimes.

The daily path (regime, VIX, opening gap, close) is generated sequentially from a fixed anchor
date, so any day's values are the same whichever range is asked for. Each session's minutes are
a Brownian bridge from the open to that close with the intraday U-shape of volatility and volume,
seeded by (seed, day), so sessions can be built lazily and in any order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from core.calendar import Session, sessions_between
from core.market.bars import SessionBars, minute_starts
from core.types import Regime

ANCHOR = date(2023, 1, 3)
REGIMES: tuple[Regime, ...] = (Regime.CALM, Regime.NORMAL, Regime.STORM, Regime.CRASH)
# Daily transition probabilities between regimes (rows: from, columns: to).
TRANSITIONS = np.array(
    [
        [0.970, 0.028, 0.002, 0.000],
        [0.030, 0.950, 0.018, 0.002],
        [0.010, 0.090, 0.870, 0.030],
        [0.000, 0.050, 0.250, 0.700],
    ]
)
VIX_MEAN = np.array([13.0, 17.5, 27.0, 45.0])
DRIFT = np.array([0.0005, 0.0002, -0.0006, -0.0045])
GAP_SHARE = np.array([0.15, 0.2, 0.3, 0.4])  # share of daily variance that happens overnight
VOL_MULT = np.array([0.8, 1.0, 1.4, 2.2])  # intraday volume by regime


@dataclass(frozen=True)
class SymbolSpec:
    symbol: str
    start_price: float
    beta: float  # to the market factor
    idio: float  # idiosyncratic share of daily volatility
    daily_volume: float


DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec("SPY", 385.0, 1.0, 0.0, 60e6),
    SymbolSpec("QQQ", 265.0, 1.18, 0.42, 45e6),
)


@dataclass
class DailyPath:
    """Per-session daily values, aligned with `sessions`."""

    sessions: list[Session] = field(default_factory=list)
    regime: list[Regime] = field(default_factory=list)
    vix_open: list[float] = field(default_factory=list)
    vix_close: list[float] = field(default_factory=list)
    opens: dict[str, list[float]] = field(default_factory=dict)
    closes: dict[str, list[float]] = field(default_factory=dict)


class SyntheticWorld:
    """Deterministic for a seed: the same seed gives the same bars, VIX and regimes."""

    def __init__(self, seed: int = 7, symbols: tuple[SymbolSpec, ...] = DEFAULT_SYMBOLS) -> None:
        self.seed = seed
        self.specs = {s.symbol: s for s in symbols}
        self.symbols = tuple(self.specs)
        self._rng = np.random.default_rng([seed, 0])
        self._path = DailyPath(opens={s: [] for s in self.specs}, closes={s: [] for s in self.specs})
        self._index: dict[date, int] = {}
        self._state = (1, math.log(VIX_MEAN[1]), {s.symbol: s.start_price for s in symbols})
        self._cache: dict[tuple[date, str], SessionBars] = {}

    # ---- daily path -------------------------------------------------------------------
    def _extend_to(self, day: date) -> None:
        last = self._path.sessions[-1].day if self._path.sessions else None
        if last is not None and last >= day:
            return
        start = ANCHOR if last is None else date.fromordinal(last.toordinal() + 1)
        for session in sessions_between(start, max(day, start)):
            self._step_day(session)

    def _step_day(self, session: Session) -> None:
        rng, p = self._rng, self._path
        regime_i, log_vix, prev_close = self._state
        regime_i = int(rng.choice(4, p=TRANSITIONS[regime_i]))
        z_market, z_vix, z_gap = rng.standard_normal(3)
        z_idio = rng.standard_normal(len(self.specs))
        vix_open = math.exp(log_vix + 0.25 * 0.08 * z_vix)
        sigma_d = vix_open / 100.0 / math.sqrt(252.0) * 0.85
        market_ret = DRIFT[regime_i] + sigma_d * z_market
        gap_sd = math.sqrt(GAP_SHARE[regime_i])
        log_vix = log_vix + 0.12 * (math.log(VIX_MEAN[regime_i]) - log_vix) - 3.5 * market_ret + 0.07 * z_vix
        log_vix = min(max(log_vix, math.log(9.0)), math.log(85.0))
        p.sessions.append(session)
        p.regime.append(REGIMES[regime_i])
        p.vix_open.append(vix_open)
        p.vix_close.append(math.exp(log_vix))
        closes = {}
        for k, spec in enumerate(self.specs.values()):
            idio = spec.idio * sigma_d * z_idio[k]
            ret = spec.beta * market_ret + idio
            gap = ret * gap_sd * 0.5 + gap_sd * sigma_d * 0.6 * z_gap * spec.beta
            open_ = prev_close[spec.symbol] * math.exp(gap)
            closes[spec.symbol] = prev_close[spec.symbol] * math.exp(ret)
            p.opens[spec.symbol].append(round(open_, 2))
            p.closes[spec.symbol].append(round(closes[spec.symbol], 2))
        self._index[session.day] = len(p.sessions) - 1
        self._state = (regime_i, log_vix, closes)

    def _day_index(self, day: date) -> int:
        self._extend_to(day)
        if day not in self._index:
            raise KeyError(f"{day} is not a trading session")
        return self._index[day]

    # ---- public ------------------------------------------------------------------------
    def regime(self, day: date) -> Regime:
        return self._path.regime[self._day_index(day)]

    def vix_open(self, day: date) -> float:
        return self._path.vix_open[self._day_index(day)]

    def vix_closes_before(self, day: date, count: int = 252) -> np.ndarray:
        """Daily VIX closes of the `count` sessions before `day` (for IV rank)."""
        i = self._day_index(day)
        return np.asarray(self._path.vix_close[max(0, i - count) : i], dtype=float)

    def session_bars(self, session: Session, symbol: str) -> SessionBars:
        key = (session.day, symbol)
        if key not in self._cache:
            self._build_session(session)
        return self._cache[key]

    def vix_path(self, session: Session) -> np.ndarray:
        """Intraday VIX per bar: the open level moved by the leverage effect, bridged to the close."""
        key = (session.day, "^VIX")
        if key not in self._cache:
            self._build_session(session)
        return self._cache[key].close

    def _build_session(self, session: Session) -> None:
        i = self._day_index(session.day)
        n = session.minutes
        rng = np.random.default_rng([self.seed, session.day.toordinal(), 1])
        u = np.linspace(0.0, 1.0, n)
        weights = 1.0 + 2.2 * (u - 0.5) ** 2 * 4.0**0.5 + 1.5 * np.exp(-u * 40.0)
        weights /= weights.sum()
        z_market = rng.standard_normal(n)
        starts = minute_starts(session)
        regime_i = REGIMES.index(self._path.regime[i])
        vix_open = self._path.vix_open[i]
        sigma_d = vix_open / 100.0 / math.sqrt(252.0) * 0.85
        intraday_sd = sigma_d * math.sqrt(1.0 - GAP_SHARE[regime_i])
        spy_log: np.ndarray | None = None
        for k, spec in enumerate(self.specs.values()):
            z = z_market if spec.idio == 0.0 else (0.9 * z_market + math.sqrt(1 - 0.81) * rng.standard_normal(n))
            open_ = self._path.opens[spec.symbol][i]
            close = self._path.closes[spec.symbol][i]
            steps = intraday_sd * spec.beta * np.sqrt(weights) * z
            steps += weights * (math.log(close / open_) - steps.sum())  # bridge to the day's close
            log_path = math.log(open_) + np.cumsum(steps)
            closes = np.exp(log_path)
            opens = np.concatenate([[open_], closes[:-1]])
            wick = np.abs(rng.standard_normal((2, n))) * 0.35 * intraday_sd * spec.beta * np.sqrt(weights) * closes
            highs = np.maximum(opens, closes) + wick[0]
            lows = np.minimum(opens, closes) - wick[1]
            shock = np.abs(steps) / (intraday_sd * np.sqrt(weights) + 1e-12)
            vol = (
                spec.daily_volume
                * weights
                * VOL_MULT[regime_i]
                * np.exp(0.35 * rng.standard_normal(n))
                * (0.7 + 0.3 * shock)
            )
            self._cache[(session.day, spec.symbol)] = SessionBars(
                spec.symbol,
                session,
                starts,
                np.round(opens, 2),
                np.round(highs, 2),
                np.round(lows, 2),
                np.round(closes, 2),
                np.round(vol),
            )
            if k == 0:
                spy_log = log_path - math.log(open_)
        assert spy_log is not None
        vix_close = self._path.vix_close[i]
        lev = -3.5 * spy_log
        log_vix = math.log(vix_open) + lev + u * (math.log(vix_close / vix_open) - lev[-1])
        vix = np.round(np.exp(log_vix), 2)
        self._cache[(session.day, "^VIX")] = SessionBars("^VIX", session, starts, vix, vix, vix, vix, np.zeros(n))
        if len(self._cache) > 400:  # keep memory bounded in long runs
            for old in list(self._cache)[:200]:
                del self._cache[old]
