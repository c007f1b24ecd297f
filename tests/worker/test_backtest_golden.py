"""The backtest of a few real sessions (../shared/data) gives the very trades and P&L stored in
`golden_backtest.json`: every trade's times, contract or legs, quantities and prices, every fill,
and the P&L to the cent, with the default strategy (a long option) and with iron condors.

The stored result was written by the code before the one-position refactor (issue 33), so a
change to the book, the entry or the exit path that moves a single fill fails here. To store it
again after a change that is meant to move results: `python -m tests.worker.test_backtest_golden`.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import ACTIVE_PARAMS, SHARED_DATA, with_params
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions

GOLDEN = Path(__file__).with_name("golden_backtest.json")
START, END = date(2026, 2, 10), date(2026, 2, 12)  # three real sessions (SPY and QQQ 1-minute bars)
RUNS: dict[str, dict[str, Any]] = {
    "long_option": {},  # the product's default strategy
    "iron_condor": {"strategy": "iron_condor"},
}
TRADE = (
    "id, underlying, contract, structure, legs, direction, entry_time, exit_time, entry_qty, exit_qty, "
    "entry_avg, exit_avg, fees, realized_pnl, entry_reason_code, exit_reason_code, status"
)
FILL = "f.time, o.trade_id, f.contract, f.side, f.qty, f.price, f.fee"


def _rows(url: str, sql: str) -> list[list[Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [[_plain(v) for v in row] for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _plain(value: Any) -> Any:
    """Prices and cash to the cent's fraction they were stored with; times and JSON as text."""
    if isinstance(value, float):
        return round(value, 4)
    return value if value is None or isinstance(value, int) else str(value)


def backtest(tmp: Path, name: str) -> dict[str, Any]:
    """One run's trades, fills and totals, as stored in the golden file."""
    url = f"sqlite:///{tmp / f'{name}.db'}"
    with_params(url, **ACTIVE_PARAMS, policy_mode="rules", **RUNS[name])
    result = run_backtest(RunOptions(db=url, source=f"csv:{SHARED_DATA}", seed=7, flush_every=60), START, END)
    return {
        "trades": _rows(url, f"SELECT {TRADE} FROM trade ORDER BY id"),
        "fills": _rows(url, f"SELECT {FILL} FROM fill f JOIN orders o ON o.id = f.order_id ORDER BY f.id"),
        "total_pnl": round(result.summary.total_pnl, 2),
        "final_equity": round(result.final_equity, 2),
    }


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not present on this machine")
@pytest.mark.parametrize("name", list(RUNS))
def test_the_backtest_of_real_sessions_gives_the_stored_trades_to_the_cent(tmp_path: Path, name: str) -> None:
    stored = json.loads(GOLDEN.read_text())[name]
    got = backtest(tmp_path, name)
    assert got["trades"], "the run traded nothing: the comparison would prove nothing"
    assert got["total_pnl"] == stored["total_pnl"] and got["final_equity"] == stored["final_equity"]
    assert got["trades"] == stored["trades"]
    assert got["fills"] == stored["fills"]


if __name__ == "__main__":  # store the golden result from the code as it is
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        out = {name: backtest(Path(folder), name) for name in RUNS}
    GOLDEN.write_text(json.dumps(out, indent=1) + "\n")
    print({name: (len(r["trades"]), r["total_pnl"]) for name, r in out.items()})
