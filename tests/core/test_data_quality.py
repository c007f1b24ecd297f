"""Bad or stale market data blocks entries with a recorded reason."""

from __future__ import annotations

from datetime import date, timedelta

from core.calendar import session_for
from core.data_quality import check_bars
from core.market.synthetic import SyntheticWorld
from core.params import TradingParams
from core.protocols import BarView

SESSION = session_for(date(2026, 3, 10))
assert SESSION is not None
P = TradingParams()


def _view(count: int = 60) -> BarView:
    bars = SyntheticWorld(3).session_bars(SESSION, "SPY")
    return BarView(bars.replace_after(len(bars), bars), count)


def test_fresh_bars_pass() -> None:
    assert check_bars(_view(), SESSION.at(60), P) is None


def test_no_bar_yet_and_stale_bars_block() -> None:
    assert check_bars(_view(0), SESSION.at(0), P).code == "data_missing"  # type: ignore[union-attr]
    stale = check_bars(_view(60), SESSION.at(60) + timedelta(seconds=P.max_bar_age_s + 1), P)
    assert stale is not None and stale.code == "data_stale" and "SPY" in stale.text


def test_impossible_and_jumping_bars_block() -> None:
    view = _view()
    view.bars.high[59] = view.bars.low[59] - 1.0
    assert check_bars(view, SESSION.at(60), P).code == "data_invalid"  # type: ignore[union-attr]
    view = _view()
    view.bars.close[59] = view.bars.close[58] * 1.2
    view.bars.high[59] = view.bars.close[59]
    assert check_bars(view, SESSION.at(60), P).code == "data_jump"  # type: ignore[union-attr]
    view = _view()
    view.bars.open[59] = float("nan")
    assert check_bars(view, SESSION.at(60), P).code == "data_invalid"  # type: ignore[union-attr]
