"""The same-day vol model: the VIX, VIX1D's open where known, the hourly VIX without look-ahead,
and the fallbacks where an index is missing."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.calendar import session_for
from core.market.csv_source import CsvDataError, CsvWorld
from core.market.sim_market import SimMarket
from core.market.vol_indexes import VIX_ELASTICITY
from core.options.day_vol import DAY_VOL_MODEL, VIX1D_OPEN_PER_VIX, day_vol, moved_by_vix, same_day_vol
from core.types import OptionContract, Right

DAY = date(2026, 2, 12)


def _session():  # type: ignore[no-untyped-def]
    session = session_for(DAY)
    assert session is not None
    return session


def _write_bars(folder: Path, symbol: str, closes: list[float]) -> None:
    stamps = [_session().at(i).replace(tzinfo=None) for i in range(len(closes))]
    pd.DataFrame(
        {"datetime": stamps, "open": closes, "high": closes, "low": closes, "close": closes, "volume": 100.0}
    ).to_csv(folder / f"{symbol}_1min.csv", index=False)


def _write_daily(folder: Path, name: str, rows: dict[date, tuple[float, float]]) -> None:
    frame = pd.DataFrame(
        [
            {"date": d.isoformat(), "open": o, "high": max(o, c), "low": min(o, c), "close": c}
            for d, (o, c) in rows.items()
        ]
    )
    frame.to_csv(folder / name, index=False)


def _write_hourly(folder: Path, closes: dict[str, float]) -> None:
    rows = [{"datetime": f"{DAY} {hhmm}:00", "open": c, "high": c, "low": c, "close": c} for hhmm, c in closes.items()]
    pd.DataFrame(rows).to_csv(folder / "VIX_60min_test.csv", index=False)


def test_the_model_moves_with_the_vix_by_its_fitted_exponent_and_vix1d_where_known() -> None:
    m = DAY_VOL_MODEL
    base = same_day_vol(20.0, 20.0)
    assert same_day_vol(22.0, 20.0) == pytest.approx(base * 1.1**m.vix), (
        "the imputed RV follows the open, not the VIX now"
    )
    assert same_day_vol(20.0, 20.0, 20.0 * VIX1D_OPEN_PER_VIX) == pytest.approx(base), (
        "VIX1D at its usual ratio: no change"
    )
    assert same_day_vol(20.0, 20.0, 2 * 20.0 * VIX1D_OPEN_PER_VIX) == pytest.approx(base * 2.0**m.vix1d)
    assert same_day_vol(22.0, math.nan) == pytest.approx(same_day_vol(22.0, 22.0)), "no open: the VIX now stands in"
    assert math.isnan(same_day_vol(math.nan, 20.0, 12.0)), "no VIX: no price, never a made-up one"
    assert moved_by_vix(10.0, 20.0, 22.0) == pytest.approx(10.0 * 1.1**m.vix)


def test_the_hourly_vix_is_used_only_after_its_hour_has_ended_and_moves_with_spy_inside_it(tmp_path: Path) -> None:
    closes = [600.0] * 60 + [600.0 - 0.1 * i for i in range(330)]  # flat for the first hour, then falling
    _write_bars(tmp_path, "SPY", closes)
    _write_bars(tmp_path, "QQQ", [500.0] * 390)
    _write_daily(tmp_path, "VIX_daily.csv", {DAY: (18.0, 24.0)})
    _write_hourly(tmp_path, {"08:00": 17.5, "09:00": 18.5, "10:00": 19.0, "11:00": 30.0})
    session = _session()
    path = CsvWorld(tmp_path).vix_path(session)
    # 09:30-10:00: the 08:00 bar (ended 09:00) is the last known; SPY flat, so VIX is its close
    assert path[0] == pytest.approx(17.5) and path[28] == pytest.approx(17.5)
    # 10:00 the 09:00 bar has ended; by 10:59 SPY has fallen since 10:00, and VIX rises with it
    assert path[29] == pytest.approx(18.5)
    spy_10, spy_1059 = closes[29], closes[88]
    assert path[88] == pytest.approx(18.5 * np.exp(VIX_ELASTICITY * np.log(spy_1059 / spy_10)))
    assert path[89] == pytest.approx(19.0), "at 11:00 the 10:00 bar has ended"
    assert (path[:149] < 25.0).all(), "the 11:00 bar's close (30) is never seen before 12:00"
    assert CsvWorld(tmp_path).vix_open(DAY) == pytest.approx(17.5), "at the open: the 08:00 bar's close"


def test_option_quotes_price_from_vix1ds_open_where_the_folder_has_it(tmp_path: Path) -> None:
    _write_bars(tmp_path, "SPY", [600.0] * 390)
    _write_bars(tmp_path, "QQQ", [500.0] * 390)
    _write_daily(tmp_path, "VIX_daily.csv", {DAY: (18.0, 18.0)})
    now = _session().at(60)
    contract = OptionContract("SPY", DAY, 600.0, Right.CALL)
    without = SimMarket(CsvWorld(tmp_path))
    session = _session()
    inputs = without.day_vol_inputs(session, now.timestamp(), without.vix(now))
    assert without.day_vol(now) == pytest.approx(day_vol(inputs)) and math.isnan(inputs.vix1d_open)
    _write_daily(tmp_path, "VIX1D_daily.csv", {DAY: (20.0, 9.0)})  # an event day: VIX1D opens far above its usual
    with_1d = SimMarket(CsvWorld(tmp_path))
    usual = 18.0 * VIX1D_OPEN_PER_VIX
    read = with_1d.day_vol_inputs(session, now.timestamp(), with_1d.vix(now))
    assert read.vix1d_open == pytest.approx(20.0), "VIX1D's open is read where the folder has it"
    assert with_1d.day_vol(now) == pytest.approx(without.day_vol(now) * (20.0 / usual) ** DAY_VOL_MODEL.vix1d)
    calm, event = without.quote(contract, now), with_1d.quote(contract, now)
    assert calm is not None and event is not None
    ratio = with_1d.day_vol(now) / without.day_vol(now)
    assert event.iv == pytest.approx(calm.iv * ratio, rel=1e-3), "the at-the-money price follows the model's VIX1D term"
    moment = now.replace(second=20)
    between = with_1d.quote_at(contract, moment)
    assert between is not None and between.iv == pytest.approx(event.iv, rel=1e-3), "the broker's updates agree"


def test_a_second_daily_vix1d_file_is_refused_by_name(tmp_path: Path) -> None:
    _write_bars(tmp_path, "SPY", [600.0] * 390)
    _write_daily(tmp_path, "VIX1D_daily_a.csv", {DAY: (10.0, 11.0)})
    _write_daily(tmp_path, "VIX1D_daily_b.csv", {DAY: (10.0, 11.0)})
    with pytest.raises(CsvDataError, match="more than one daily VIX1D file"):
        CsvWorld(tmp_path)
