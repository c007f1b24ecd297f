"""The book's dollar greeks against Black-Scholes by hand, the limits as an entry safeguard in the
worker's cycle (an entry blocked by the gamma limit), and VaR and expected shortfall."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from core.options.day_vol import same_day_vol
from core.options.surface import quote_scalar, surface_for
from core.params import TradingParams
from core.risk.book import book_greeks, book_risk, limit_breach, value_at_risk
from core.risk.shock import HeldLeg
from core.types import OptionContract, Right
from tests.conftest import ACTIVE_PARAMS, with_params
from tests.console_helpers import rows
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions

DAY = date(2026, 2, 11)
CALL = OptionContract("SPY", DAY, 600.0, Right.CALL)
PUT = OptionContract("SPY", DAY, 590.0, Right.PUT)


def _n(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _bs_delta_gamma(spot: float, strike: float, minutes: float, iv: float) -> tuple[float, float]:
    """A call's delta and gamma by the formulas (no rates; years of trading minutes)."""
    t = minutes / (252 * 390)
    sd = iv * math.sqrt(t)
    d1 = (math.log(spot / strike) + 0.5 * sd * sd) / sd
    return _n(d1), math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi) / (spot * sd)


def test_the_books_dollar_delta_and_gamma_match_black_scholes_by_hand() -> None:
    spot, vix, left, qty = 601.0, 16.0, 120.0, 7
    iv = quote_scalar(spot, CALL.strike, True, same_day_vol(vix, math.nan), left, surface_for("SPY"))[2]
    delta, gamma = _bs_delta_gamma(spot, CALL.strike, left, iv)
    greeks = book_greeks([HeldLeg(CALL, qty)], {"SPY": spot}, vix, left)
    # the surface's smile moves the IV with the spot: a few per cent from the flat-vol formulas
    assert greeks.delta_usd == pytest.approx(delta * spot * 0.01 * 100 * qty, rel=0.10)
    assert greeks.gamma_usd == pytest.approx(gamma * (spot * 0.01) ** 2 * 100 * qty, rel=0.15)
    assert greeks.theta_usd < 0 < greeks.vega_usd
    hedged = book_greeks([HeldLeg(CALL, qty), HeldLeg(CALL, -qty)], {"SPY": spot}, vix, left)
    assert hedged.delta_usd == pytest.approx(0.0, abs=1e-6) and hedged.gamma_usd == pytest.approx(0.0, abs=1e-6)


def test_the_limits_name_what_the_entry_would_break() -> None:
    spots, equity = {"SPY": 601.0}, 100_000.0
    entry = [HeldLeg(CALL, 20)]
    off = TradingParams(max_book_delta_pct=0, max_book_gamma_pct=0, max_shock_loss_pct=0)
    assert limit_breach([], entry, spots, 16.0, 60.0, equity, off) is None
    gamma_only = off.model_copy(update={"max_book_gamma_pct": 1.0})
    reason = limit_breach([], entry, spots, 16.0, 60.0, equity, gamma_only)
    assert reason is not None and reason.code == "risk_gamma" and "limit 1% of equity" in reason.text
    shock_only = off.model_copy(update={"max_shock_loss_pct": 0.5})
    held = [HeldLeg(PUT, 10)]
    reason = limit_breach(held, entry, spots, 16.0, 60.0, equity, shock_only)
    assert reason is not None and reason.code == "risk_shock"
    worst = book_risk(held + entry, spots, 16.0, 60.0).worst
    assert worst is not None and f"{-worst.pnl:,.0f} $" in reason.text


def test_var_and_expected_shortfall_come_from_the_recorded_days() -> None:
    assert value_at_risk([100.0] * 9) is None, "ten days at least"
    days = [float(x) for x in range(-10, 30)]  # 40 days: the two worst are -10 and -9
    var, es, n = value_at_risk(days) or (0.0, 0.0, 0)
    assert (var, es, n) == (9.0, 9.5, 40)


def test_an_entry_the_gamma_limit_forbids_is_blocked_with_its_code(tmp_path: Path) -> None:
    urls = {}
    for name, gamma in (("limited", 0.5), ("free", 0.0)):
        urls[name] = url = f"sqlite:///{tmp_path / f'{name}.db'}"
        with_params(url, **ACTIVE_PARAMS, policy_mode="rules", max_book_delta_pct=0, max_shock_loss_pct=0,
                    max_book_gamma_pct=gamma)  # fmt: skip
        run_backtest(RunOptions(db=url, seed=3, flush_every=50), start=date(2025, 11, 24), end=date(2025, 11, 24))
    assert rows(urls["free"], "SELECT count(*) FROM trade")[0][0] > 0
    assert rows(urls["limited"], "SELECT count(*) FROM trade") == [(0,)]
    blocked = rows(urls["limited"], "SELECT blocked_reason FROM decision WHERE blocked_by = 'risk_gamma'")
    assert blocked and "net gamma" in str(blocked[0][0]) and "limit 0.5% of equity" in str(blocked[0][0])
