"""The same-day vol model's inputs (only what is known at the minute), the event calendar, the
error band built from held-out days, and its coverage of a chain's quotes and credits."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.calendar import last_sessions, session_for
from core.market.csv_source import CsvWorld
from core.market.sim_market import SimMarket
from core.options.band_fit import DayError, build_bands, credit_checks, inside
from core.options.chain import build_chain
from core.options.day_vol import DAY_VOL_MODEL
from core.options.events import events_on, monthly_expiry, third_friday
from core.structures.legs import LegChoice
from core.structures.types import StructureKind

DAY = date(2026, 7, 22)
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def _write_days(folder: Path, days: list[date], closes_of: dict[date, np.ndarray]) -> None:
    rows = []
    for d in days:
        session = session_for(d)
        assert session is not None
        closes = closes_of[d]
        for i, c in enumerate(closes):
            rows.append({"datetime": session.at(i).replace(tzinfo=None), "open": c, "high": c, "low": c, "close": c})
    frame = pd.DataFrame(rows).assign(volume=100.0)
    frame.to_csv(folder / "SPY_1min.csv", index=False)
    frame.assign(open=frame["open"] * 0.8, high=frame["high"] * 0.8, low=frame["low"] * 0.8, close=frame["close"] * 0.8)
    frame.to_csv(folder / "QQQ_1min.csv", index=False)
    pd.DataFrame(
        [{"date": d.isoformat(), "open": 18.0, "high": 18.0, "low": 18.0, "close": 18.0} for d in days]
    ).to_csv(folder / "VIX_daily.csv", index=False)


def _walk(seed: int, n: int = 390, sd: float = 0.0006) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(600.0 * np.exp(np.cumsum(rng.normal(0.0, sd, n))), 2)


def test_a_later_bar_never_changes_an_earlier_minutes_vol_and_the_moves_so_far_do(tmp_path: Path) -> None:
    days = [s.day for s in last_sessions(DAY, 6)]
    closes = {d: _walk(i) for i, d in enumerate(days)}
    _write_days(tmp_path, days, closes)
    session = session_for(DAY)
    assert session is not None
    at = session.at(120)
    before = SimMarket(CsvWorld(tmp_path))
    vol, inputs = before.day_vol(at), before.day_vol_inputs(session, at.timestamp(), before.vix(at))
    assert inputs.session_returns == 24 and inputs.prior_rv > 0.0 and math.isfinite(inputs.session_rv)
    later = closes[DAY].copy()
    later[125:] *= np.exp(np.cumsum(np.full(265, 0.004)))  # a crash-like move after the minute
    later[121:125] = later[120] * 1.03  # the bars that start at or after 11:30 move too
    _write_days(tmp_path, days, {**closes, DAY: later})
    changed_future = SimMarket(CsvWorld(tmp_path))
    assert changed_future.day_vol(at) == pytest.approx(vol, rel=1e-12), "no bar after the minute enters"
    assert changed_future.day_vol(session.at(200)) != pytest.approx(before.day_vol(session.at(200)))
    earlier = closes[DAY].copy()
    earlier[30:60] = earlier[30:60] * np.exp(np.random.default_rng(9).normal(0, 0.004, 30))
    _write_days(tmp_path, days, {**closes, DAY: earlier})
    moved = SimMarket(CsvWorld(tmp_path))
    moved_inputs = moved.day_vol_inputs(session, at.timestamp(), moved.vix(at))
    assert moved_inputs.session_rv > inputs.session_rv, "the session's moves so far are measured"
    previous_close = float(closes[days[-2]][-1])
    gapped = closes[DAY] * (previous_close * 1.015 / closes[DAY][0])  # the session opens 1.5% above it
    _write_days(tmp_path, days, {**closes, DAY: gapped})
    opened_away = SimMarket(CsvWorld(tmp_path))
    gap_inputs = opened_away.day_vol_inputs(session, at.timestamp(), opened_away.vix(at))
    assert gap_inputs.gap == pytest.approx(math.log(1.015), rel=1e-6), "the gap: first open over the last close"
    assert inputs.gap == pytest.approx(abs(math.log(closes[DAY][0] / previous_close)), rel=1e-6)
    day_sd = inputs.prior_rv / math.sqrt(252.0)
    expected = vol * math.exp(DAY_VOL_MODEL.gap * (gap_inputs.gap - inputs.gap) / day_sd)
    assert opened_away.day_vol(at) == pytest.approx(expected, rel=1e-9), "the gap counts in days' sd"
    assert DAY_VOL_MODEL.gap > 0.0 and gap_inputs.gap > inputs.gap and opened_away.day_vol(at) > vol
    wilder_past = {**closes, days[0]: _walk(0, sd=0.003)}
    _write_days(tmp_path, days, wilder_past)
    assert SimMarket(CsvWorld(tmp_path)).day_vol(at) > vol, "a wilder earlier session raises the day's vol"


def test_the_event_calendar_knows_fomc_cpi_and_the_monthly_expiry() -> None:
    assert events_on(date(2026, 7, 29)).fomc and events_on(date(2026, 7, 29)).names == ("fomc",)
    assert events_on(date(2026, 7, 17)).monthly_expiry and not events_on(date(2026, 7, 24)).monthly_expiry
    assert events_on(date(2026, 2, 13)).cpi and events_on(date(2025, 10, 24)).cpi
    assert events_on(date(2026, 7, 28)).names == ()
    assert third_friday(2026, 7) == date(2026, 7, 17)
    assert monthly_expiry(2025, 4) == date(2025, 4, 17), "Good Friday 2025: the Thursday before"
    assert DAY_VOL_MODEL.fomc > 0.0, "the fitted model prices an FOMC day above a calm one"


def test_the_band_comes_from_the_held_out_days_spread_and_widens_with_few_days() -> None:
    spy = [DayError("SPY", d, (m - 0.01, m, m + 0.01)) for d, m in enumerate([-0.2, -0.1, 0.0, 0.1, 0.2])]
    qqq = [DayError("QQQ", d, (m - 0.01, m, m + 0.01)) for d, m in enumerate([-0.05, 0.05])]
    bands = build_bands(spy + qqq, coverage=0.9)
    s, q = bands["SPY"], bands["QQQ"]
    assert s.days == 5 and q.days == 2
    assert s.sd_days == pytest.approx(math.sqrt((0.1 + 0.005) / 5), rel=1e-9), "pooled over both underlyings"
    half = math.hypot(s.t * s.sd_days * math.sqrt(1 + 1 / 5), 1.645 * s.sd_within)
    assert (s.low, s.high) == pytest.approx((math.exp(-half), math.exp(half)), rel=1e-3)
    assert q.t > 6.0 and q.high / q.low > s.high / s.low, "two days: Student's t with one degree of freedom"
    tight = build_bands([DayError("SPY", d, (m,) * 50) for d, m in enumerate([-0.2, 0.2, -0.2, 0.2])])
    assert tight["SPY"].low < 0.75 and tight["SPY"].high > 1.3, "quotes agreeing within a day do not narrow it"
    shifted = build_bands([DayError("SPY", d, (m + 0.6,)) for d, m in enumerate([-0.1, 0.0, 0.1])])["SPY"]
    assert shifted.center == pytest.approx(0.6) and shifted.low > 1.0, "a biased model: the band sits off 1"


def test_coverage_of_quotes_and_of_the_credits_the_worker_would_open_on_a_small_chain() -> None:
    session = session_for(DAY)
    assert session is not None
    now, left = session.at(150), 240.0
    real = build_chain("SPY", DAY, now, 600.0, 12.0, left, strikes_each_side=15)
    low = build_chain("SPY", DAY, now, 600.0, 10.0, left, strikes_each_side=15)
    high = build_chain("SPY", DAY, now, 600.0, 14.0, left, strikes_each_side=15)
    mid = (real.bid + real.ask) / 2
    hits = inside(mid, (low.bid + low.ask) / 2, (high.bid + high.ask) / 2)
    assert hits.mean() > 0.9 and inside(np.array([1.0, 3.0]), np.array([2.0, 2.0]), np.array([1.0, 2.5])).tolist() == [
        True,
        False,
    ]
    by_symbol = lambda chain: {chain.quote(i).contract.symbol: chain.quote(i) for i in range(len(chain.strikes))}  # noqa: E731
    checks = credit_checks(real, by_symbol(low), by_symbol(high), LegChoice(short_delta=0.2, width=5.0))
    assert [c.kind for c in checks] == [
        StructureKind.PUT_CREDIT_SPREAD,
        StructureKind.CALL_CREDIT_SPREAD,
        StructureKind.IRON_CONDOR,
    ]
    assert all(c.covered and c.at_low < c.real < c.at_high for c in checks), "more vol, more credit"
    higher = build_chain("SPY", DAY, now, 600.0, 13.0, left, strikes_each_side=15)
    missed = credit_checks(real, by_symbol(higher), by_symbol(high), LegChoice(short_delta=0.2, width=5.0))
    assert missed and not any(c.covered for c in missed), "a band wholly above the market misses every credit"


@pytest.mark.skipif(not (SHARED / "options").is_dir(), reason="../shared/data (the real chains) is not on this machine")
def test_the_real_chain_days_load_with_the_inputs_known_at_each_snapshot() -> None:
    from bench._chain_days import load

    data = load(SHARED)
    days = set(data.snapshots["day"])
    assert date(2026, 7, 29) in days and date(2026, 2, 12) in days and len(days) == 17
    fomc = data.snapshots[data.snapshots["day"] == date(2026, 7, 29)]
    assert all(x.events.fomc and x.prior_rv > 0 for x in fomc["inputs"])


def test_the_event_terms_come_from_realized_days_before_the_chain_days_only() -> None:
    from bench._day_vol_fit import event_terms

    sessions = [s.day for s in last_sessions(date(2025, 12, 31), 260)]
    rng = np.random.default_rng(5)
    rows = []
    for d in sessions:
        events = events_on(d)
        scale = 2.0 if events.fomc else 1.0  # an FOMC day moves twice as far (four times the variance)
        width = 0.01 * scale * math.exp(rng.normal(0.0, 0.05))
        rows.append({"date": d.isoformat(), "open": 600.0, "high": 600.0 * (1 + width), "low": 600.0, "close": 600.0})
    daily = pd.DataFrame(rows)
    terms = event_terms(daily, date(2026, 1, 1))
    assert terms["fomc"] == pytest.approx(0.5 * math.log(4.0), abs=0.08), "half the log of the variance ratio"
    assert abs(terms["cpi"]) < 0.08 and abs(terms["monthly_expiry"]) < 0.08, "no extra move: no term"
    cut = sessions[len(sessions) // 2]
    wild = daily.copy()
    later = pd.to_datetime(wild["date"]).dt.date >= cut
    wild.loc[later, "high"] = wild.loc[later, "high"] * 1.05  # a wild market from `cut` on
    assert event_terms(wild, cut) == event_terms(daily, cut), "no day on or after `before` enters"


def test_the_surface_is_dearer_in_the_morning_and_into_the_close_than_at_midday() -> None:
    from core.options.surface import SESSION_MINUTES, SURFACES, atm_iv

    p = SURFACES["SPY"]
    midday, opening, late = atm_iv(10.0, 200.0, p), atm_iv(10.0, SESSION_MINUTES, p), atm_iv(10.0, 30.0, p)
    flat = replace(p, open_boost=0.0, close_boost=0.0)
    assert atm_iv(10.0, SESSION_MINUTES, flat) == pytest.approx(0.10) == atm_iv(10.0, 200.0, flat)
    assert opening == pytest.approx(0.10 * (1 + p.open_boost) * (1 + p.close_boost * math.exp(-390 / p.close_tau)))
    assert opening > midday * 1.05 and late > midday * 1.3, "the fitted shape through a session"
