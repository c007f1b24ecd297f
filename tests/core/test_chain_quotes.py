"""Same-day chain quotes: refused row by row at import with a count and a reason per kind, priced
from the last quote at or before the moment (never a later one), the model where none."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.calendar import NY, session_for
from core.market.chain_world import ChainWorld
from core.market.sim_market import SimMarket
from core.options.history import OptionHistory
from core.types import OptionContract, PriceSource, Right
from tests.chain_helpers import DAY, chain_quotes, five_minute_bars, write_chain_day
from worker.offline.option_history import main as option_history


def _import(tmp_path: Path, quotes: pd.DataFrame | None = None, name: str = "cache") -> ChainWorld:
    day = write_chain_day(tmp_path / f"{name}-data", quotes)
    cache = tmp_path / name
    assert option_history(["--folder", str(cache), "import-chains", str(day.chains), "--bars", str(day.bars)]) == 0
    return ChainWorld(OptionHistory(cache), day.data)


def _at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hh, mm, ss, tzinfo=NY)


def test_bad_quotes_are_refused_row_by_row_with_counts_and_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quotes = chain_quotes(five_minute_bars())
    quotes.loc[0, "bid"] = quotes.loc[0, "ask"] + 0.10  # crossed
    quotes.loc[1, "ask"] = 0.0  # zero
    quotes.loc[3, "expiry"] = (DAY + timedelta(days=1)).isoformat()  # not same-day
    far = quotes["quote_time"] == quotes["quote_time"].unique()[2]
    quotes.loc[far, "spot"] *= 1.01  # a whole snapshot's spot 1% off the bars
    quotes = pd.concat([quotes, quotes.iloc[[5, 6]]], ignore_index=True)  # two exact repeats
    world = _import(tmp_path, quotes)
    printed = capsys.readouterr().out
    for line in (
        "refused 1 quotes: crossed",
        "refused 1 quotes: zero",
        "refused 1 quotes: wrong_expiry",
        f"refused {int(far.sum())} quotes: spot_far",
        "refused 2 quotes: duplicate",
    ):
        assert line in printed, printed
    refused = 5 + int(far.sum())
    assert f"{len(quotes) - refused} of {len(quotes)} quotes kept" in printed
    stored = world.history.read_checks("SPY", DAY)
    assert stored is not None and stored.refused["spot_far"] == far.sum() and stored.refused["crossed"] == 1
    kept = pd.read_parquet(world.history.quotes_path("SPY", DAY))
    assert len(kept) == len(quotes) - refused
    assert (kept["bid"] <= kept["ask"]).all() and (kept["ask"] > 0).all()
    assert not kept.duplicated(["contract", "time"]).any()


def test_a_contract_is_priced_from_its_last_quote_at_or_before_the_moment(tmp_path: Path) -> None:
    bars = five_minute_bars()
    quotes = chain_quotes(bars)
    world = _import(tmp_path, quotes)
    market = SimMarket(world, option_history=world.history)
    snap = quotes[quotes["quote_time"] == f"{DAY} 10:04:11"]
    atm = snap.iloc[(snap["strike"] - snap["spot"]).abs().argsort().iloc[0]]
    contract = OptionContract("SPY", DAY, float(atm["strike"]), Right.CALL if atm["type"] == "C" else Right.PUT)
    fresh = market.quote_at(contract, _at(10, 4, 40))
    assert fresh is not None and fresh.price_source is PriceSource.REAL_QUOTE
    assert (fresh.bid, fresh.ask) == (atm["bid"], atm["ask"]) and fresh.time == _at(10, 4, 11)
    carried = market.quote_at(contract, _at(10, 9, 0))
    assert carried is not None and carried.price_source is PriceSource.QUOTE_ANCHORED
    assert round(carried.ask - carried.bid, 2) == round(atm["ask"] - atm["bid"], 2), "the quote's own width"

    # The next snapshot (10:09:11) three times dearer: nothing priced before it changes.
    dearer = quotes.copy()
    later = dearer["quote_time"] == f"{DAY} 10:09:11"
    dearer.loc[later, ["bid", "ask"]] = (dearer.loc[later, ["bid", "ask"]] * 3).round(2)
    other_world = _import(tmp_path, dearer, "dearer")
    other = SimMarket(other_world, option_history=other_world.history)
    for moment in (_at(10, 4, 40), _at(10, 9, 0), _at(10, 9, 10)):
        a, b = market.quote_at(contract, moment), other.quote_at(contract, moment)
        assert a is not None and b is not None and (a.bid, a.ask) == (b.bid, b.ask), moment
    a, b = market.quote(contract, _at(10, 10)), other.quote(contract, _at(10, 10))
    assert a is not None and b is not None and b.mid > 2 * a.mid, "from 10:09:11 the dearer quote prices it"


def test_a_contract_without_a_quote_is_priced_by_the_model_and_labelled(tmp_path: Path) -> None:
    world = _import(tmp_path)
    market = SimMarket(world, option_history=world.history)
    model = SimMarket(world)
    now = _at(11, 1)  # the last snapshot (10:59:11) is over a minute old
    spot = market.spot("SPY", now)
    unquoted = OptionContract("SPY", DAY, float(round(spot) + 40), Right.CALL)
    priced, alone = market.quote(unquoted, now), model.quote(unquoted, now)
    assert priced is not None and alone is not None and priced.price_source is PriceSource.MODEL
    assert (priced.bid, priced.ask) == (alone.bid, alone.ask)
    early = market.chain("SPY", _at(9, 31))
    assert early is not None and early.sources is not None and set(early.sources) == {PriceSource.MODEL}, (
        "before the day's first quote every contract is the model's"
    )
    chain = market.chain("SPY", now)
    assert chain is not None and chain.sources is not None
    assert set(chain.sources) == {PriceSource.QUOTE_ANCHORED}
    for i in range(0, len(chain.strikes), 7):  # a contract alone is priced as the chain prices it
        q = chain.quote(i)
        alone_q = market.quote_at(q.contract, now)
        assert alone_q is not None
        assert (alone_q.bid, alone_q.ask, alone_q.price_source) == (q.bid, q.ask, q.price_source)


def test_the_minutes_split_from_five_minute_bars_pass_through_the_chain_spot(tmp_path: Path) -> None:
    bars = five_minute_bars()
    quotes = chain_quotes(bars)
    world = _import(tmp_path, quotes)
    session = session_for(DAY)
    assert session is not None
    minutes = world.session_bars(session, "SPY")
    assert len(minutes) == session.minutes and world.bar_source == "chains_5min_split"
    for stamp, spot in quotes.groupby("quote_time")["spot"].first().items():
        ts = pd.Timestamp(stamp).tz_localize(NY).timestamp()
        i = int(np.searchsorted(minutes.start, ts, side="right")) - 1
        assert minutes.low[i] - 1e-4 <= spot <= minutes.high[i] + 1e-4, stamp
    five = bars.set_index("datetime")
    first = five.iloc[0]
    assert abs(minutes.open[0] - first["open"]) < 0.02 * first["open"]
