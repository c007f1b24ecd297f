"""Market data through real alpaca-py clients against the fake, and yfinance at its library
boundary (yfinance.Ticker.history replaced by frames shaped as yfinance returns them)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yfinance

from core.calendar import NY
from core.data_quality import check_bars
from core.options.day_vol import DAY_VOL_MODEL, same_day_vol
from core.options.pricing import bs_price_delta_vec
from core.params import TradingParams
from tests.alpaca_helpers import SESSION_DAY, clients_for, fake_alpaca
from tests.fake_alpaca import FakeAlpacaServer
from worker.adapters.alpaca_market import AlpacaMarketData
from worker.adapters.live_day_vol import feed_atm_iv
from worker.adapters.yahoo import YahooSource, YahooUnavailableError


@pytest.fixture
def server() -> Iterator[FakeAlpacaServer]:
    with fake_alpaca() as srv:
        yield srv


def yahoo_frame(server: FakeAlpacaServer, symbol: str, interval: str) -> pd.DataFrame:
    """What yfinance's Ticker.history returns: a NY-tz DatetimeIndex, capitalised columns."""
    market, now = server.state.market, server.state.now
    if symbol == "^VIX" and interval == "1d":
        closes = market.vix_history(now.date())
        days = pd.bdate_range(end=now.date() - timedelta(days=1), periods=len(closes), tz=NY)
        index = pd.DatetimeIndex(days, name="Date")
        values = closes
    elif symbol == "^VIX":
        index = pd.DatetimeIndex([now.replace(second=0) - timedelta(minutes=1)], name="Datetime")
        values = np.array([market.vix(now)])
    else:
        view = market.bars(symbol, now)
        n = view.count + 1  # yfinance includes the bar still forming
        index = pd.DatetimeIndex([view.bars.bar_time(i) for i in range(n)], name="Datetime").tz_convert(NY)
        b = view.bars
        return pd.DataFrame(
            {
                "Open": b.open[:n],
                "High": b.high[:n],
                "Low": b.low[:n],
                "Close": b.close[:n],
                "Volume": b.volume[:n].astype(np.int64),
                "Dividends": 0.0,
                "Stock Splits": 0.0,
            },
            index=index,
        )
    return pd.DataFrame(
        {
            "Open": values,
            "High": values,
            "Low": values,
            "Close": values,
            "Volume": 0,
            "Dividends": 0.0,
            "Stock Splits": 0.0,
        },
        index=index,
    )


@pytest.fixture
def yahoo(server: FakeAlpacaServer, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """yfinance.Ticker.history answers from the simulated market; calls are recorded."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def history(self: yfinance.Ticker, **kwargs: Any) -> pd.DataFrame:
        calls.append((self.ticker, kwargs))
        return yahoo_frame(server, self.ticker, str(kwargs.get("interval")))

    monkeypatch.setattr(yfinance.Ticker, "history", history)
    return calls


def test_calendar_times_come_back_in_new_york(server: FakeAlpacaServer) -> None:
    market = AlpacaMarketData(clients_for(server))
    session = market.session(server.state.now)
    assert session is not None and session.day == SESSION_DAY
    assert session.open == datetime(2025, 11, 24, 9, 30, tzinfo=NY)
    assert session.open.utcoffset() == timedelta(hours=-5) and session.close.hour == 16
    assert market.session(datetime(2025, 11, 23, 12, 0, tzinfo=NY)) is None  # a Sunday


def test_bars_chain_and_vix_match_the_market_behind_the_fake(server: FakeAlpacaServer) -> None:
    market = AlpacaMarketData(clients_for(server))
    sim, now = server.state.market, server.state.now
    view, truth = market.bars("SPY", now), sim.bars("SPY", now)
    assert (view.count, view.source, view.degraded) == (truth.count, "alpaca", False)
    np.testing.assert_array_equal(view.bars.close[: view.count], truth.bars.close[: truth.count])
    server.state.advance(3)
    later = market.bars("SPY", server.state.now)
    assert later.count == view.count + 3 and later.last_close == sim.bars("SPY", server.state.now).last_close
    assert market.vix(server.state.now) == sim.vix(server.state.now)
    np.testing.assert_allclose(market.vix_history(SESSION_DAY), sim.vix_history(SESSION_DAY))
    chain = market.chain("SPY", server.state.now)
    assert chain is not None and chain.expiry == SESSION_DAY
    for i in range(len(chain.strikes)):
        q = chain.quote(i)
        real = sim.quote(q.contract, server.state.now)
        assert real is not None
        assert (q.bid, q.ask) == (round(real.bid, 2), round(real.ask, 2))
        assert q.delta == pytest.approx(real.delta)
    held = chain.quote(3).contract
    assert market.quote(held, server.state.now) == chain.quote(3)


def test_alpaca_bars_down_falls_back_to_yfinance_and_marks_the_decision_degraded(
    server: FakeAlpacaServer, yahoo: list[tuple[str, dict[str, Any]]]
) -> None:
    market = AlpacaMarketData(clients_for(server))
    now = server.state.now
    server.state.bars_down = True
    view = market.bars("QQQ", now)
    truth = server.state.market.bars("QQQ", now)
    assert (view.source, view.degraded, view.count) == ("yfinance", True, truth.count)
    np.testing.assert_allclose(view.bars.close[: view.count], truth.bars.close[: truth.count])
    assert ("QQQ", {"period": "1d", "interval": "1m", "prepost": False, "auto_adjust": False}) in yahoo
    server.state.bars_down = False
    server.state.advance(1)
    back = market.bars("QQQ", server.state.now)
    assert (back.source, back.degraded, back.count) == ("alpaca", False, truth.count + 1)


def test_no_bars_anywhere_goes_stale_and_blocks_entries(
    server: FakeAlpacaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    market = AlpacaMarketData(clients_for(server))
    assert check_bars(market.bars("SPY", server.state.now), server.state.now, TradingParams()) is None

    def down(self: yfinance.Ticker, **kwargs: Any) -> pd.DataFrame:
        return pd.DataFrame()  # what yfinance returns when Yahoo has nothing

    monkeypatch.setattr(yfinance.Ticker, "history", down)
    server.state.bars_down = True
    server.state.advance(3)
    view = market.bars("SPY", server.state.now)
    problem = check_bars(view, server.state.now, TradingParams())
    assert view.degraded and problem is not None and problem.code == "data_stale"


def test_vix_comes_from_yfinance_when_alpaca_has_none(
    server: FakeAlpacaServer, yahoo: list[tuple[str, dict[str, Any]]]
) -> None:
    market = AlpacaMarketData(clients_for(server, ALPACA_VIX_SYMBOL=""))
    now = server.state.now
    assert market.vix(now) == server.state.market.vix(now)
    history = market.vix_history(SESSION_DAY)
    np.testing.assert_allclose(history, server.state.market.vix_history(SESSION_DAY))
    assert {t for t, _ in yahoo} == {"^VIX"}
    assert not market.bars("SPY", now).degraded  # yfinance is VIX's designated source here


def test_yfinance_frames_are_read_as_completed_bars_only(
    server: FakeAlpacaServer, yahoo: list[tuple[str, dict[str, Any]]]
) -> None:
    source = YahooSource()
    now = server.state.now
    session = server.state.market.session(now)
    assert session is not None
    rows = source.minute_bars("SPY", session, now)
    truth = server.state.market.bars("SPY", now)
    assert len(rows) == truth.count  # the bar still forming is dropped
    assert rows[-1][0] == truth.bars.start[truth.count - 1]
    assert rows[0][4] == pytest.approx(float(truth.bars.close[0]))


def test_yfinance_failures_are_errors_not_zeros(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: yfinance.Ticker, **kwargs: Any) -> pd.DataFrame:
        raise ConnectionError("no route to host")

    monkeypatch.setattr(yfinance.Ticker, "history", broken)
    with pytest.raises(YahooUnavailableError, match="no route to host"):
        YahooSource().vix_latest(datetime(2025, 11, 24, 10, tzinfo=NY))
    monkeypatch.setattr(yfinance.Ticker, "history", lambda self, **kw: pd.DataFrame({"Close": [1.0]}))
    with pytest.raises(YahooUnavailableError, match="no rows"):
        YahooSource().vix_closes_before(SESSION_DAY)


def _daily_opens(opens: dict[str, float], server: FakeAlpacaServer) -> Any:
    """yfinance history where ^VIX/^VIX1D daily bars hold today's open, and ^VIX minutes the sim's VIX."""

    def history(self: yfinance.Ticker, **kwargs: Any) -> pd.DataFrame:
        now = server.state.now
        if kwargs.get("interval") == "1d" and self.ticker in opens:
            index = pd.DatetimeIndex([pd.Timestamp(now.date(), tz=NY)], name="Date")
            value = opens[self.ticker]
        elif self.ticker == "^VIX" and kwargs.get("interval") == "1m":
            index = pd.DatetimeIndex([now.replace(second=0) - timedelta(minutes=1)], name="Datetime")
            value = server.state.market.vix(now)
        else:
            return pd.DataFrame()  # nothing for this ticker
        frame = {"Open": value, "High": value, "Low": value, "Close": value, "Volume": 0}
        return pd.DataFrame(frame, index=index)

    return history


def _fallback_deltas(server: FakeAlpacaServer, vol: float) -> tuple[np.ndarray, np.ndarray]:
    """The chain's deltas from the adapter and Black-Scholes deltas at `vol`, on the same contracts."""
    market = AlpacaMarketData(clients_for(server, ALPACA_VIX_SYMBOL=""))
    now = server.state.now
    chain = market.chain("SPY", now)
    session = market.session(now)
    assert chain is not None and session is not None
    minutes_left = (session.close - now).total_seconds() / 60.0
    vols = np.full(len(chain.strikes), vol)
    _, expected = bs_price_delta_vec(chain.spot, chain.strikes, minutes_left, vols, chain.is_call)
    return chain.delta, expected


def test_a_chain_without_greeks_is_priced_from_vix1d_moved_by_the_vix(
    server: FakeAlpacaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.state.greekless = 2  # the feed sends quotes only: no IV anywhere to read the market's vol from
    monkeypatch.setattr(yfinance.Ticker, "history", _daily_opens({"^VIX": 18.0, "^VIX1D": 12.0}, server))
    vix_now = server.state.market.vix(server.state.now)
    got, expected = _fallback_deltas(server, same_day_vol(vix_now, 18.0, 12.0) / 100.0)
    np.testing.assert_allclose(got, expected)
    # without a VIX1D print today the VIX alone: the model's answer without that input (the fitted
    # model weighs VIX1D's open by DAY_VOL_MODEL.vix1d, 0 since held out it made the error worse)
    monkeypatch.setattr(yfinance.Ticker, "history", _daily_opens({"^VIX": 18.0}, server))
    got_scaled, expected_scaled = _fallback_deltas(server, same_day_vol(vix_now, 18.0) / 100.0)
    np.testing.assert_allclose(got_scaled, expected_scaled)
    assert np.allclose(got, got_scaled) == (DAY_VOL_MODEL.vix1d == 0.0)


def test_contracts_without_greeks_take_the_feeds_at_the_money_iv(
    server: FakeAlpacaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.state.greekless = 1  # every second contract comes without IV or greeks
    monkeypatch.setattr(yfinance.Ticker, "history", _daily_opens({"^VIX": 18.0, "^VIX1D": 12.0}, server))
    truth = server.state.market.chain("SPY", server.state.now)
    assert truth is not None
    with_iv = np.arange(len(truth.strikes)) % 2 == 0
    atm = feed_atm_iv(truth.spot, truth.strikes[with_iv], truth.iv[with_iv])
    got, expected = _fallback_deltas(server, atm)
    np.testing.assert_allclose(got[~with_iv], expected[~with_iv])
    np.testing.assert_allclose(got[with_iv], truth.delta[with_iv])  # the feed's own greeks where it sent them
    # the feed's vol that minute, not the model's: the two differ on this chain
    assert atm != pytest.approx(same_day_vol(server.state.market.vix(server.state.now), 18.0, 12.0) / 100.0)


def test_yfinance_daily_open_is_nan_before_the_day_has_a_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    yesterday = pd.DatetimeIndex([pd.Timestamp(SESSION_DAY - timedelta(days=3), tz=NY)], name="Date")
    frame = pd.DataFrame({"Open": 11.0, "High": 11.0, "Low": 11.0, "Close": 11.0, "Volume": 0}, index=yesterday)
    monkeypatch.setattr(yfinance.Ticker, "history", lambda self, **kw: frame)
    assert np.isnan(YahooSource().daily_open("^VIX1D", SESSION_DAY))
    assert YahooSource().daily_open("^VIX1D", SESSION_DAY - timedelta(days=3)) == 11.0
