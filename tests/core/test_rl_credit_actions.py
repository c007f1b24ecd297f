"""The credit action set (hold / sell_put_spread / sell_call_spread / iron_condor / close): the
training environment trades each structure as one multi-leg order on the real simulated broker,
a model trained with `--action-set credit` carries the set in its metadata and is served with it,
a model whose network does not match its set is refused, and the worker's cycle opens the
structure the action names."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from core.calendar import Session
from core.market.synthetic import SyntheticWorld
from core.market.worlds import pick_sessions
from core.params import TradingParams
from core.policy.base import Observation, PolicyOutput, action_mask, masked_output
from core.policy.ensemble import PolicySet, agreement
from core.policy.rl import LstmMemory, RLPolicy
from core.policy.rules import RulePolicy
from core.rl.env import ZeroDteEnv
from core.rl.metadata import ModelMetadata, ModelMismatchError, metadata_path
from core.rl.train import TrainConfig, parse_args, train
from core.types import Action, ActionSet, PolicyMode
from tests.conftest import ACTIVE_PARAMS, with_params
from tests.console_helpers import rows
from tests.rl_helpers import TRAIN_END, random_observation
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions

CREDIT = ActionSet.CREDIT.actions


@pytest.fixture(scope="module")
def sessions() -> list[Session]:
    return pick_sessions(SyntheticWorld(7), None, TRAIN_END, 3)


@pytest.fixture(scope="module")
def credit_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = TrainConfig(source="synthetic", end=TRAIN_END, days=3, timesteps=1024, seed=5, n_envs=2, name="tiny-credit",
                      out=tmp_path_factory.mktemp("credit"), action_set=ActionSet.CREDIT)  # fmt: skip
    return train(cfg)[0]


@pytest.mark.parametrize(
    ("action", "kind", "legs"),
    [
        (Action.SELL_PUT_SPREAD, "put_credit_spread", 2),
        (Action.SELL_CALL_SPREAD, "call_credit_spread", 2),
        (Action.IRON_CONDOR, "iron_condor", 4),
    ],
)
def test_each_credit_action_opens_its_structure_as_one_order_and_rewards_sum_to_its_cash(
    sessions: list[Session], action: Action, kind: str, legs: int
) -> None:
    env = ZeroDteEnv(SyntheticWorld(7), sessions, ["SPY"], action_set=ActionSet.CREDIT)
    assert env.action_space.n == 5
    env.reset(options={"episode": 0})
    total, opened = 0.0, None
    for k in range(400):
        _, reward, done, _, _ = env.step(CREDIT.index(action) if k == 40 else 0)
        total += reward
        if opened is None and env.desk.structure is not None:
            opened = env.desk.structure
        if done:
            break
    assert opened is not None, f"{action.label} opened nothing"
    assert opened.structure.kind.value == kind and len(opened.structure.legs) == legs
    assert opened.entry_net < 0, "a credit structure takes a credit"
    sent = [o for o in env.desk.broker._orders.values() if o.request.opening]
    assert len(sent) == 1 and len(sent[0].request.legs) == legs, "one multi-leg order opens it"
    by_contract = {f.contract.symbol for f in env.desk.fills}
    assert by_contract == {leg.contract.symbol for leg in opened.structure.legs}, "each fill on its own leg"
    assert env.desk.structure is None and len(env.closed_pnls) == 1, "closed by the day's end"
    pnl = env.desk.cash() - env.capital
    assert env.closed_pnls[0] == pytest.approx(pnl, abs=0.01)
    assert total == pytest.approx(pnl / env.capital * 100.0, abs=1e-6)


def test_close_is_the_only_action_while_a_structure_is_held_and_the_policys_close_closes_it(
    sessions: list[Session],
) -> None:
    params = TradingParams(min_hold_min=0)
    env = ZeroDteEnv(SyntheticWorld(7), sessions, ["SPY"], params=params, action_set=ActionSet.CREDIT)
    env.reset(options={"episode": 0})
    for k in range(60):
        env.step(CREDIT.index(Action.IRON_CONDOR) if k == 40 else 0)
    held = env.desk.structure
    assert held is not None
    env.step(CREDIT.index(Action.SELL_PUT_SPREAD))  # an entry while held is a hold
    assert env.desk.structure is held and len(env.desk.broker._orders) == 1
    for _ in range(5):
        env.step(CREDIT.index(Action.CLOSE))
    assert env.desk.structure is None and len(env.closed_pnls) == 1


def test_a_credit_model_carries_its_action_set_and_is_served_with_it(credit_model: Path) -> None:
    meta = ModelMetadata.read(metadata_path(credit_model))
    assert meta.action_set == "credit"
    assert meta.action_names == ["hold", "sell_put_spread", "sell_call_spread", "iron_condor", "close"]
    policy = RLPolicy(credit_model)
    assert policy.actions == CREDIT
    rng = np.random.default_rng(1)
    for in_position in (False, True):
        for _ in range(40):
            obs = random_observation(rng, direction=1 if in_position else 0)
            out = policy.decide(obs, action_mask(in_position, True, policy.actions))
            assert len(out.probabilities) == 5 and sum(out.probabilities) == pytest.approx(1.0)
            allowed = {Action.HOLD, Action.CLOSE} if in_position else {Action.HOLD, *CREDIT[1:4]}
            assert out.action in allowed


def test_a_credit_label_on_a_four_action_network_is_refused_with_expected_and_found(
    credit_model: Path, tmp_path: Path
) -> None:
    target = tmp_path / credit_model.name
    shutil.copy(credit_model, target)
    meta = json.loads(metadata_path(credit_model).read_text())
    meta.update(action_set="long", action_names=["hold", "buy_call", "buy_put", "close"])
    metadata_path(target).write_text(json.dumps(meta))
    with pytest.raises(ModelMismatchError, match="expected 4 actions, found 5 in the model zip"):
        RLPolicy(target)
    meta.update(action_set="straddles")
    metadata_path(target).write_text(json.dumps(meta))
    with pytest.raises(ModelMismatchError, match="action_set: expected one of long, credit, found straddles"):
        RLPolicy(target)
    meta.update(action_set="credit", action_names=["hold", "buy_call", "buy_put", "iron_condor", "close"])
    metadata_path(target).write_text(json.dumps(meta))
    with pytest.raises(ModelMismatchError, match="action_names: expected"):
        RLPolicy(target)


def test_the_training_command_takes_the_action_set() -> None:
    assert parse_args(["--action-set", "credit"]).action_set is ActionSet.CREDIT
    assert parse_args([]).action_set is ActionSet.LONG


def test_both_mode_agrees_by_view_across_action_sets() -> None:
    rules_up = masked_output((0.1, 0.8, 0.05, 0.05), (True, True, True, False))
    rules_hold = masked_output((0.9, 0.05, 0.05, 0.0), (True, True, True, False))
    flat = action_mask(False, True, CREDIT)
    put_spread = masked_output((0.1, 0.7, 0.1, 0.1, 0.0), flat, CREDIT)
    condor = masked_output((0.1, 0.1, 0.1, 0.7, 0.0), flat, CREDIT)
    assert agreement(put_spread, rules_up).action is Action.SELL_PUT_SPREAD  # both bullish
    assert agreement(put_spread, rules_hold).action is Action.HOLD
    assert agreement(condor, rules_hold).action is Action.IRON_CONDOR  # no direction: the rules hold
    assert agreement(condor, rules_up).action is Action.HOLD
    joined = agreement(put_spread, rules_up)
    assert joined.actions == CREDIT and joined.confidence == pytest.approx((0.7 + 0.8 / 0.95) / 2)


class _AlwaysCondor:
    """A stand-in for a credit model that always sells an iron condor when it may enter."""

    name = "rl"
    version = "always-condor"
    actions = CREDIT

    def decide(self, obs: Observation, mask: Sequence[bool]) -> PolicyOutput:
        assert len(mask) == 5
        return masked_output((0.05, 0.05, 0.05, 0.8, 0.05), mask, CREDIT)

    def reset(self, symbol: str, day: date | None = None) -> None:
        return None

    def memory(self, symbol: str) -> LstmMemory | None:
        return None

    def memories(self) -> dict[str, LstmMemory]:
        return {}

    def restore_memories(self, saved: dict[str, LstmMemory]) -> None:
        return None


def test_the_worker_opens_the_structure_the_credit_action_names(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'credit.db'}"
    with_params(url, **ACTIVE_PARAMS, strategy="long_option", policy_mode="rl")  # the action overrides it
    policy = PolicySet(RulePolicy(), _AlwaysCondor(), PolicyMode.RL)  # type: ignore[arg-type]
    run_backtest(RunOptions(db=url, seed=3, flush_every=50), start=date(2025, 11, 24), end=date(2025, 11, 24),
                 policy=policy)  # fmt: skip
    trades = rows(url, "SELECT structure, legs, entry_reason_code FROM trade")
    assert trades and {t[0] for t in trades} == {"iron_condor"}
    assert all(len(json.loads(str(t[1]))) == 4 and t[2] == "policy_iron_condor" for t in trades)
    entries = rows(url, "SELECT p_neutral, p_buy_call, action FROM decision WHERE action = 'iron_condor'")
    assert entries and all(p is not None and p > 0.5 for p, _, _ in entries)
    assert all(call == pytest.approx(0.05 / 0.95) for _, call, _ in entries), "the bullish entry: the put spread"
