"""Parameters: refused edits name the field and rule and store nothing; a new version changes
the very next cycle, which records it."""

from __future__ import annotations

from datetime import UTC

import pytest
from sqlalchemy import func, select, text

from core.params import ParamsError, TradingParams, diff_params, field_catalog, validate_params
from db.control import revert_to, save_param_version
from db.models import ParamVersion
from worker.runtime import Runtime


def test_defaults_are_the_recommended_ones() -> None:
    p = TradingParams()
    assert (p.min_confidence, p.stop_loss_pct, p.daily_loss_limit_pct, p.max_drawdown_pct) == (
        0.75,
        -15.0,
        -15.0,
        -30.0,
    )
    assert (p.max_trades_per_symbol_day, p.cooldown_s, p.max_hold_min, p.risk_per_trade_pct) == (5, 120, 120, 3.0)


@pytest.mark.parametrize(
    ("values", "field", "rule_word"),
    [
        ({"min_confidence": 1.5}, "min_confidence", "less than or equal to 1"),
        ({"stop_loss_pct": 5}, "stop_loss_pct", "less than 0"),
        ({"iv_rank_min": 90, "iv_rank_max": 10}, "iv_rank_min", "below iv_rank_max"),
        ({"partial1_fraction_pct": 60, "partial2_fraction_pct": 60}, "partial2_fraction_pct", "must not exceed 100"),
        ({"no_such_knob": 1}, "no_such_knob", "not a known parameter"),
        ({"max_trades_per_symbol_day": "many"}, "max_trades_per_symbol_day", "integer"),
        # strict: values of the wrong type are refused, never coerced
        ({"min_confidence": True}, "min_confidence", "valid number"),
        ({"max_bar_age_s": " 90 "}, "max_bar_age_s", "valid integer"),
        ({"max_bar_age_s": 90.5}, "max_bar_age_s", "valid integer"),
        ({"policy_mode": 1}, "policy_mode", "'rl', 'rules' or 'both'"),
        ({"blocked_regimes": "crash"}, "blocked_regimes", "valid"),
        ({"flatten_before_close_min": 30}, "flatten_before_close_min", "greater than or equal to 31"),
    ],
)
def test_refused_edit_names_field_and_rule(values: dict, field: str, rule_word: str) -> None:
    with pytest.raises(ParamsError) as err:
        validate_params(values)
    assert any(e.field == field and rule_word in e.rule for e in err.value.errors), err.value.errors


def test_strict_validation_still_takes_what_the_console_sends() -> None:
    """Whole numbers for decimals, lists for tuples, choice strings: accepted as they are."""
    p = validate_params({"min_confidence": 1, "blocked_regimes": ["crash", "storm"], "policy_mode": "rules"})
    assert p.min_confidence == 1.0 and [r.value for r in p.blocked_regimes] == ["crash", "storm"]


def test_refused_edit_stores_nothing(runtime: Runtime) -> None:
    with runtime.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(ParamVersion)).scalar()
    with pytest.raises(ParamsError):
        save_param_version(runtime.engine, {"max_open_positions": -1}, author="tester")
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ParamVersion)).scalar() == before
    control, _ = runtime.journal.read_control()
    assert control.param_version == 1


def test_a_new_version_changes_the_next_cycle(runtime: Runtime) -> None:
    from datetime import date

    from core.calendar import session_for

    session = session_for(date(2026, 3, 10))
    assert session is not None
    loose = save_param_version(
        runtime.engine,
        {"min_confidence": 0.3, "cooldown_s": 0, "iv_rank_max": 100, "blocked_regimes": []},
        author="tester",
        note="loose",
    )
    minute = 31
    while minute < 200:
        runtime.cycle.run(session.at(minute))
        minute += 1
        runtime.journal.flush()
        with runtime.engine.connect() as conn:
            if conn.execute(text("SELECT count(*) FROM decision WHERE action LIKE 'buy%'")).scalar():
                break
    strict = save_param_version(
        runtime.engine,
        {"max_trades_per_symbol_day": 0, "min_confidence": 0.3, "iv_rank_max": 100, "blocked_regimes": []},
        author="tester",
        note="no more entries",
    )
    switch_at = session.at(minute)
    for m in range(minute, 320):
        runtime.cycle.run(session.at(m))
    runtime.journal.flush()
    with runtime.engine.connect() as conn:
        after = conn.execute(
            text("SELECT param_version, action, final_action, blocked_by FROM decision WHERE time >= :t"),
            {"t": switch_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")},
        ).all()
        first_used = conn.execute(select(ParamVersion.first_used_at).where(ParamVersion.id == strict.id)).scalar()
    assert {r[0] for r in after} == {strict.id}, "every later decision records the new version"
    # a safeguard known before the policy speaks masks the buys; the decision records its code
    blocked = [r for r in after if r[3] is not None]
    assert blocked and all(r[3] in ("max_trades", "trading_state", "session_window") for r in blocked)
    assert any(r[3] == "max_trades" for r in blocked)
    assert all(r[1] == "hold" for r in blocked), "a masked buy is never the recorded choice"
    assert all(r[2] != "buy_call" and r[2] != "buy_put" for r in after)
    assert first_used is not None
    assert loose.id != strict.id


def test_revert_makes_a_new_version_with_old_values(runtime: Runtime) -> None:
    v2 = save_param_version(runtime.engine, {"vix_ceiling": 20.0}, author="a")
    v3 = revert_to(runtime.engine, 1, author="b")
    assert v3.id == (v2.id or 0) + 1 and v3.reverted_from == 1
    assert diff_params(TradingParams.model_validate(v3.values), TradingParams()) == {}
    _, params = runtime.journal.read_control()
    assert params.vix_ceiling == TradingParams().vix_ceiling


def test_catalog_covers_every_field_with_group_unit_and_help() -> None:
    catalog = field_catalog()
    assert {c["name"] for c in catalog} == set(TradingParams.model_fields)
    assert all(c["group"] and c["unit"] and c["help"].endswith(".") for c in catalog)
