"""Bad market data never breaks a cycle: each fault is injected into a replayed CSV session and
the whole session runs through the real cycle. The bad bar never reaches the features, every
minute still gets its decision, entries are blocked with the data code, and no price is taken
from a later bar."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from core.calendar import NY, session_for
from core.market.bars import SessionBars
from core.market.synthetic import SyntheticWorld
from core.policy.base import Observation, PolicyOutput
from core.types import Action
from tests.conftest import ACTIVE_PARAMS, TEST_DAY, with_params
from worker.runtime import RunOptions, build_runtime

SESSION = session_for(TEST_DAY)
assert SESSION is not None
FAULT_MINUTE = 60  # 10:30 ET


def _write_csv(folder: Path, fault: str) -> None:
    world = SyntheticWorld(5)
    for symbol in ("SPY", "QQQ"):
        bars = world.session_bars(SESSION, symbol)
        frame = pd.DataFrame(
            {
                "datetime": [datetime.fromtimestamp(t, NY).replace(tzinfo=None) for t in bars.start],
                "open": bars.open,
                "high": bars.high,
                "low": bars.low,
                "close": bars.close,
                "volume": bars.volume,
            }
        )
        if symbol == "SPY":
            frame = _inject(frame, fault)
        frame.to_csv(folder / f"{symbol}_1min_test.csv", index=False)
    days = pd.date_range(TEST_DAY - timedelta(days=400), TEST_DAY, freq="D")
    vix = pd.DataFrame({"date": days.date, "open": 18.0, "high": 19.0, "low": 17.0, "close": 18.0})
    vix.to_csv(folder / "VIX_daily_test.csv", index=False)


def _inject(frame: pd.DataFrame, fault: str) -> pd.DataFrame:
    i = FAULT_MINUTE
    if fault == "zero":
        frame.loc[i, ["open", "high", "low", "close"]] = 0.0
    elif fault == "negative":
        frame.loc[i, "close"] = -frame.loc[i, "close"]
    elif fault == "nan":
        frame.loc[i, "close"] = np.nan
    elif fault == "high_below_low":
        frame.loc[i, ["high", "low"]] = [frame.loc[i, "low"] - 1.0, frame.loc[i, "high"] + 1.0]
    elif fault == "duplicate":
        frame = pd.concat(
            [frame.iloc[: i + 1], frame.iloc[[i]].assign(close=frame.loc[i, "close"] * 1.2), frame.iloc[i + 1 :]]
        )
    elif fault == "out_of_order":
        frame = pd.concat([frame.iloc[:i], frame.iloc[[i + 1, i]], frame.iloc[i + 2 :]])
    elif fault == "gap":
        frame = frame.drop(index=range(i, i + 20))
    return frame.reset_index(drop=True)


class _WantsToBuyFrom:
    """Holds until `start`, then wants a call every minute: a block shows on every decision."""

    def __init__(self, inner: Any, start: datetime) -> None:
        self.inner, self.start = inner, start

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def decide(self, obs: Observation, mask: Any) -> PolicyOutput:
        if obs.now is None or obs.now < self.start:
            return PolicyOutput((1.0, 0.0, 0.0, 0.0), Action.HOLD, 1.0)
        if mask[Action.BUY_CALL]:
            return PolicyOutput((0.0, 1.0, 0.0, 0.0), Action.BUY_CALL, 1.0)
        return PolicyOutput((1.0, 0.0, 0.0, 0.0), Action.HOLD, 1.0, raw=(0.0, 1.0, 0.0, 0.0))


def _run(tmp_path: Path, fault: str, wants_from: int = FAULT_MINUTE + 1) -> tuple[Any, list[tuple[Any, ...]]]:
    folder = tmp_path / "data"
    folder.mkdir()
    _write_csv(folder, fault)
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    with_params(url, **ACTIVE_PARAMS, entry_delay_min=0)
    rt = build_runtime(RunOptions(db=url, source=f"csv:{folder}", model=None), "backtest", run_id=f"bad-{fault}")
    rt.cycle.policy = _WantsToBuyFrom(rt.cycle.policy, SESSION.at(wants_from))  # type: ignore[assignment]
    for minute in range(1, SESSION.minutes + 1):
        rt.cycle.run(SESSION.at(minute))
    rt.journal.flush()
    with rt.engine.connect() as conn:
        rows = [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT time, symbol, blocked_by, rsi_14, trend_pct, underlying_price FROM decision "
                    "WHERE symbol = 'SPY' ORDER BY time"
                )
            )
        ]
    return rt, rows


@pytest.mark.parametrize("fault", ["zero", "negative", "nan", "high_below_low", "duplicate", "out_of_order"])
def test_a_bad_bar_is_refused_blocks_entries_and_the_session_goes_on(tmp_path: Path, fault: str) -> None:
    _, rows = _run(tmp_path, fault)
    assert len(rows) == SESSION.minutes, "every minute still gets its decision"
    bad_start = SESSION.at(FAULT_MINUTE) if fault != "out_of_order" else SESSION.at(FAULT_MINUTE + 1)
    after = [r for r in rows if _utc(r[0]) == bad_start + timedelta(minutes=1)]
    assert after and after[0][2] == "data_invalid", rows[FAULT_MINUTE : FAULT_MINUTE + 4]
    later = [r for r in rows if _utc(r[0]) >= (bad_start + timedelta(minutes=10)).astimezone(NY)]
    assert all(r[3] is not None and np.isfinite(r[3]) for r in later), "the features never took the bad bar"
    assert all(r[4] is not None and np.isfinite(r[4]) for r in later)


def test_a_gap_in_the_bars_prices_nothing_from_after_it(tmp_path: Path) -> None:
    rt, rows = _run(tmp_path, "gap", wants_from=FAULT_MINUTE + 3)
    assert len(rows) == SESSION.minutes
    bars: SessionBars = rt.world.session_bars(SESSION, "SPY")  # type: ignore[union-attr]
    before_gap = float(bars.close[FAULT_MINUTE - 1])
    inside = [r for r in rows if SESSION.at(FAULT_MINUTE + 1) <= _utc(r[0]) <= SESSION.at(FAULT_MINUTE + 19)]
    assert inside and all(r[5] == pytest.approx(before_gap) for r in inside), "the last price known, not a later one"
    assert any(r[2] == "data_stale" for r in inside), "entries are blocked while the bars are missing"


def test_the_check_where_data_enters_keeps_good_bars_and_names_the_bad() -> None:
    start = SESSION.open.timestamp() + 60.0 * np.arange(5)
    o = np.array([10.0, 10.0, 0.0, 10.0, 10.0])
    h = np.array([11.0, 11.0, 11.0, 9.0, 11.0])
    lo = np.array([9.0, 9.0, 9.0, 10.5, 9.0])
    c = np.array([10.0, np.nan, 10.0, 10.0, 10.0])
    checked = SessionBars.checked("SPY", SESSION, start, o, h, lo, c, np.ones(5))
    assert list(checked.start) == [start[0], start[4]]
    assert [r[0] for r in checked.rejected] == [start[1], start[2], start[3]]
    assert "high below low" in checked.rejected[2][1]


def _utc(value: Any) -> datetime:
    from datetime import UTC

    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC).astimezone(NY)
