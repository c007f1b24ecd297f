"""Option bars: every bad row refused with its reason, and quotes priced from real bars, anchored
to the last real price, or from the model, each saying which."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from core.calendar import session_for
from core.market.csv_source import CsvWorld
from core.market.sim_market import SimMarket
from core.options.bar_checks import check_bars
from core.options.history import OptionHistory
from core.options.pricing import bs_price_delta, implied_vol
from core.types import OptionContract, PriceSource, Right

DAY = date(2026, 2, 12)
CALL = OptionContract("SPY", DAY, 600.0, Right.CALL)


def _session():  # type: ignore[no-untyped-def]
    session = session_for(DAY)
    assert session is not None
    return session


def _row(contract: str, minute: int, o: float, h: float, lo: float, c: float, v: float = 5.0) -> dict[str, object]:
    stamp = _session().at(minute).replace(tzinfo=None).isoformat(sep=" ")
    return {"contract": contract, "datetime": stamp, "open": o, "high": h, "low": lo, "close": c, "volume": v}


def test_each_bad_row_is_refused_with_its_reason_and_the_good_ones_are_kept() -> None:
    good = CALL.symbol
    rows = [
        _row("O:" + good, 10, 2.0, 2.1, 1.9, 2.05),  # a vendor's prefix: fine
        _row(good, 11, 2.0, 2.1, 1.9, 2.05),
        _row(good, 11, 2.0, 2.1, 1.9, 2.05),  # an identical copy
        _row(good, 12, 2.0, 2.1, 1.9, 2.05),
        _row(good, 12, 2.2, 2.2, 2.2, 2.2),  # the same minute at another price
        _row(good, 13, 0.0, 2.1, 0.0, 2.0),  # zero price
        _row(good, 14, 2.0, 1.9, 2.1, 2.0),  # low above high
        _row(good, 15, 2.5, 2.1, 1.9, 2.0),  # open above the high
        _row(good, 16, 2.0, 2.1, 1.9, 2.0, v=-1.0),
        _row("SPY260213C00600000", 17, 2.0, 2.1, 1.9, 2.0),  # expires tomorrow
        _row("QQQ260212C00500000", 18, 2.0, 2.1, 1.9, 2.0),  # another underlying
        _row("NOT-A-SYMBOL", 19, 2.0, 2.1, 1.9, 2.0),
        {**_row(good, 20, 2.0, 2.1, 1.9, 2.0), "datetime": "2026-02-12 08:00:00"},  # before the open
        {**_row(good, 21, 2.0, 2.1, 1.9, 2.0), "datetime": "yesterday"},
    ]
    kept, report = check_bars(pd.DataFrame(rows), "SPY", "same_day")
    assert report.rows_in == len(rows) and report.kept == len(kept) == 2
    assert dict(report.refused) == {
        "duplicate": 1,
        "conflicting_duplicate": 2,
        "non_positive_price": 1,
        "crossed": 2,
        "bad_volume": 1,
        "wrong_expiry": 1,
        "wrong_underlying": 1,
        "bad_symbol": 1,
        "outside_session": 1,
        "bad_time": 1,
    }
    assert kept["contract"].tolist() == [good, good] and kept["time"].iloc[0] == _session().at(10)
    assert report.missing_minutes == 0
    assert "refused 2 rows: crossed" in report.summary()


def _world(tmp_path: Path) -> CsvWorld:
    session = _session()
    stamps = [session.at(i).replace(tzinfo=None) for i in range(390)]
    for symbol, price in (("SPY", 600.0), ("QQQ", 500.0)):
        pd.DataFrame(
            {"datetime": stamps, "open": price, "high": price, "low": price, "close": price, "volume": 100.0}
        ).to_csv(tmp_path / f"{symbol}_1min.csv", index=False)
    pd.DataFrame({"date": [DAY.isoformat()], "open": [18.0], "high": [18.0], "low": [18.0], "close": [18.0]}).to_csv(
        tmp_path / "VIX_daily.csv", index=False
    )
    return CsvWorld(tmp_path)


def test_quotes_come_from_the_real_bar_then_anchored_to_it_then_from_the_model(tmp_path: Path) -> None:
    world = _world(tmp_path)
    history = OptionHistory(tmp_path / "cache")
    # the real market priced this call well above the model: 2.60 at 10:30, 2.40 at 10:31
    bars, _ = check_bars(
        pd.DataFrame([_row(CALL.symbol, 60, 2.6, 2.7, 2.5, 2.5), _row(CALL.symbol, 61, 2.4, 2.4, 2.3, 2.3)])
    )
    history.add_checked(bars)
    real = SimMarket(world, option_history=history)
    model = SimMarket(world)
    session = _session()
    before = real.quote(CALL, session.at(30))
    assert before is not None and before.price_source is PriceSource.MODEL, "no trade yet today: the model"
    assert (before.bid, before.ask) == (model.quote(CALL, session.at(30)).bid, model.quote(CALL, session.at(30)).ask)  # type: ignore[union-attr]
    traded = real.quote(CALL, session.at(60))
    assert traded is not None and traded.price_source is PriceSource.REAL_BAR
    assert traded.bid <= 2.6 <= traded.ask and traded.ask - traded.bid <= 0.05, "the bar's open, the model's spread"
    later = real.quote(CALL, session.at(90))
    assert later is not None and later.price_source is PriceSource.ANCHORED
    left_then, left_now = session.minutes - 62, session.minutes - 90
    anchor_iv = implied_vol(2.3, 600.0, 600.0, left_then, True)
    model_now, model_then = model.quote(CALL, session.at(90)), model.quote(CALL, session.at(62))
    assert model_now is not None and model_then is not None
    expected = bs_price_delta(600.0, 600.0, left_now, anchor_iv * model_now.iv / model_then.iv, True)[0]
    assert later.mid == pytest.approx(expected, abs=0.011), "the last close's vol, moved as the model's moved"
    assert later.mid > model_now.mid + 0.3, "anchored to the real (dearer) price, not the model's"
    other = OptionContract("SPY", DAY, 601.0, Right.PUT)
    assert real.quote(other, session.at(90)).price_source is PriceSource.MODEL  # type: ignore[union-attr]
    chain = real.chain("SPY", session.at(60))
    assert chain is not None and chain.sources is not None
    i = next(k for k in range(len(chain.strikes)) if chain.strikes[k] == 600.0 and chain.is_call[k])
    assert chain.quote(i).price_source is PriceSource.REAL_BAR and chain.quote(i).bid == traded.bid
    between = real.quote_at(CALL, session.at(60).replace(second=30))
    assert between is not None and between.price_source is PriceSource.REAL_BAR and between.mid < traded.mid + 0.01
    qqq = real.quote(OptionContract("QQQ", DAY, 500.0, Right.CALL), session.at(60))
    assert qqq is not None and qqq.price_source is PriceSource.MODEL, "no QQQ history that day: the model alone"


def test_a_price_no_volatility_explains_is_not_an_anchor() -> None:
    assert math.isnan(implied_vol(0.5, 600.0, 590.0, 100.0, True)), "under intrinsic value"
    assert math.isnan(implied_vol(2.0, 600.0, 600.0, 0.0, True)), "no time left"
    iv = implied_vol(2.0, 600.0, 600.0, 100.0, True)
    assert bs_price_delta(600.0, 600.0, 100.0, iv, True)[0] == pytest.approx(2.0, abs=1e-6)
