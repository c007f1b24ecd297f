"""Chat control: the rules on their own (allow-list, confirmations that expire, the flood limit,
an audit row per command), then python-telegram-bot's bot as a process of its own against a
local fake of the Telegram Bot API, with a simulated worker carrying out a stop sent from the
phone. No test touches the network."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from core.types import TradingState
from db.control import utcnow
from db.engine import make_engine
from db.models import Trade
from tests.conftest import with_params
from tests.console_helpers import rows
from tests.fake_telegram import TOKEN, fake_telegram
from tests.support import ROOT, poll, start_worker
from worker.chat.__main__ import allowed_users
from worker.chat.commands import MAX_MESSAGE, StrangerGate, fit, parse_command
from worker.chat.control import ChatControl, ChatUser, RequestOutcome
from worker.chat.updates import UpdatesRequest

ANN, BOB, EVE = 1001, 1002, 6666  # Ann and Bob are allow-listed; Eve is not
ARTIFACTS = ROOT / "artifacts" / "chat"


class _Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def control(migrated: str) -> Iterator[tuple[ChatControl, _Clock, str]]:
    clock = _Clock()
    engine = make_engine(migrated)
    yield ChatControl(engine, frozenset({ANN, BOB}), confirm_seconds=60, per_minute=5, clock=clock), clock, migrated
    engine.dispose()


def test_only_the_allow_list_commands_and_every_command_is_audited(
    control: tuple[ChatControl, _Clock, str],
) -> None:
    chat, _, url = control
    refused = chat.command(ChatUser(EVE, "eve"), "stop", "now")
    assert refused.text.startswith("Not allowed") and rows(url, "SELECT state FROM controlstate") == [("ACTIVE",)]
    done = chat.command(ChatUser(ANN, "ann"), "stop", "spread blew out")
    assert done.text.startswith("Stop recorded") and done.confirm is None, "one tap: no confirmation"
    assert rows(url, "SELECT state, flatten, set_by, reason FROM controlstate") == [
        ("HALTED", 1, "telegram:ann", "Emergency stop from chat: spread blew out")
    ]
    assert rows(url, "SELECT user_id, command, args, outcome FROM chat_command ORDER BY id") == [
        (EVE, "stop", "now", "not_allowed"), (ANN, "stop", "spread blew out", "done")
    ]  # fmt: skip
    assert rows(url, "SELECT who FROM controlevent ORDER BY id DESC LIMIT 1") == [("telegram:ann",)]


def test_resume_needs_a_confirmation_that_expires_and_only_its_asker_can_give(
    control: tuple[ChatControl, _Clock, str],
) -> None:
    chat, clock, url = control
    chat.command(ChatUser(ANN, "ann"), "stop", "")
    asked = chat.command(ChatUser(ANN, "ann"), "resume", "all clear")
    assert asked.confirm is not None and rows(url, "SELECT state FROM controlstate") == [("HALTED",)]
    assert chat.confirm(ChatUser(BOB, "bob"), asked.confirm, True).text.startswith("Nothing to confirm"), "not Bob's"
    again = chat.command(ChatUser(ANN, "ann"), "resume", "all clear")
    clock.now += timedelta(seconds=61)
    assert chat.confirm(ChatUser(ANN, "ann"), str(again.confirm), True).text.startswith("Expired")
    assert rows(url, "SELECT state FROM controlstate") == [("HALTED",)]
    last = chat.command(ChatUser(ANN, "ann"), "resume", "all clear")
    assert chat.confirm(ChatUser(ANN, "ann"), str(last.confirm), True).text == "Resumed: ACTIVE."
    assert rows(url, "SELECT state, set_by FROM controlstate") == [("ACTIVE", "telegram:ann")]


def test_a_flood_of_commands_is_cut_at_the_limit_and_recorded(control: tuple[ChatControl, _Clock, str]) -> None:
    chat, clock, url = control
    answers = [chat.command(ChatUser(ANN, "ann"), "status") for _ in range(8)]
    assert [a.text.startswith("Too many") for a in answers] == [False] * 5 + [True] * 3
    clock.now += timedelta(minutes=1, seconds=1)
    assert chat.command(ChatUser(ANN, "ann"), "status").text.startswith("Trading state")
    assert rows(url, "SELECT count(*) FROM chat_command WHERE outcome = 'too_many'") == [(3,)]


def test_close_names_an_open_trade_and_stopentry_reduces(control: tuple[ChatControl, _Clock, str]) -> None:
    chat, _, url = control
    assert chat.command(ChatUser(ANN, "ann"), "close", "42").text.startswith("Usage"), "no such open trade"
    assert chat.command(ChatUser(ANN, "ann"), "stopentry", "").text == "Recorded: REDUCING, no new entries."
    assert rows(url, "SELECT state FROM controlstate") == [(TradingState.REDUCING.value,)]
    with pytest.raises(ValueError, match="numeric Telegram user ids"):
        allowed_users("1001, @bob")


def test_stop_is_never_refused_by_the_limit_and_takes_a_reason_on_the_next_line(
    control: tuple[ChatControl, _Clock, str],
) -> None:
    chat, _, url = control
    assert [chat.command(ChatUser(ANN, "ann"), "status").text[:8] for _ in range(6)][-1] == "Too many", "limit used"
    typed = parse_command("/stop\nspread blew out\nat 10:31", "odte_bot")
    assert typed is not None and typed.name == "stop"
    assert chat.command(ChatUser(ANN, "ann"), typed.name, typed.args).text.startswith("Stop recorded")
    assert rows(url, "SELECT state, reason FROM controlstate") == [
        ("HALTED", "Emergency stop from chat: spread blew out at 10:31")
    ]
    assert chat.command(ChatUser(ANN, "ann"), "stopentry", "").text.startswith("Recorded: REDUCING")
    assert parse_command("/stopentry@otherbot", "odte_bot") is None, "addressed to another bot"
    assert parse_command("/STOPENTRY@Odte_Bot now", "odte_bot") == parse_command("/stopentry now", "odte_bot")


def test_only_the_askers_tap_answers_and_others_leave_the_question_waiting(
    control: tuple[ChatControl, _Clock, str],
) -> None:
    chat, _, url = control
    chat.command(ChatUser(ANN, "ann"), "stop", "")
    asked = chat.command(ChatUser(ANN, "ann"), "resume", "all clear")
    for accepted in (True, False):
        tapped = chat.confirm(ChatUser(BOB, "bob"), str(asked.confirm), accepted)
        assert tapped.text.startswith("Nothing to confirm") and not tapped.final, "Bob's tap answers nothing"
    assert rows(url, "SELECT state FROM controlstate") == [("HALTED",)]
    assert chat.confirm(ChatUser(ANN, "ann"), str(asked.confirm), True).text == "Resumed: ACTIVE."


def _trade(url: str, status: str) -> int:
    """A trade row (open or closed) as the worker books one."""
    at, engine = utcnow(), make_engine(url)
    with Session(engine) as s:
        row = Trade(run_id="worker-paper", status=status, underlying="SPY", contract="SPY251117C00600000",
                    direction=1, entry_time=at, entry_qty=1, qty_open=1 if status == "open" else 0, entry_avg=1.0,
                    entry_reason_code="policy_buy_call", entry_reason="test", confidence=0.8, regime="normal",
                    vix=15.0, model_version="rules-1", param_version=1,
                    entry_client_order_id=f"t-{status}-{at.timestamp()}")  # fmt: skip
        s.add(row)
        s.commit()
        trade_id = int(row.id or 0)
    engine.dispose()
    return trade_id


def _set_status(url: str, trade_id: int, status: str) -> None:
    engine = make_engine(url)
    with Session(engine) as s:
        row = s.get(Trade, trade_id)
        assert row is not None
        row.status = status
        s.add(row)
        s.commit()
    engine.dispose()


def test_close_of_a_closed_trade_says_so_and_the_workers_refusal_is_told(
    control: tuple[ChatControl, _Clock, str],
) -> None:
    chat, _, url = control
    closed, open_ = _trade(url, "closed"), _trade(url, "open")
    said = chat.command(ChatUser(ANN, "ann"), "close", str(closed))
    assert said.text == f"Trade #{closed} is already closed: nothing to do." and said.confirm is None
    asked = chat.command(ChatUser(ANN, "ann"), "close", f"{open_} news")
    _set_status(url, open_, "closed")  # closed by the worker meanwhile
    late = chat.confirm(ChatUser(ANN, "ann"), str(asked.confirm), True)
    assert late.text == f"Trade #{open_} is already closed: nothing to do." and late.request is None
    _set_status(url, open_, "open")
    again = chat.command(ChatUser(ANN, "ann"), "close", str(open_))
    sent = chat.confirm(ChatUser(ANN, "ann"), str(again.confirm), True)
    assert sent.request is not None and chat.request_outcome(sent.request) == RequestOutcome("pending", "")
    told = chat.follow_up(ChatUser(ANN, "ann"), open_, RequestOutcome("refused", "no open position for that trade"), 60)
    assert told.text == f"The worker refused the close of trade #{open_}: no open position for that trade."
    assert rows(url, "SELECT outcome FROM chat_command ORDER BY id DESC LIMIT 1") == [("worker_refused",)]


def test_strangers_are_limited_before_any_work_and_long_replies_are_cut() -> None:
    now = [0.0]
    gate = StrangerGate(frozenset({ANN}), per_user=1, overall=3, clock=lambda: now[0])
    assert all(gate.admit(ANN) for _ in range(100)), "the allow-list is never limited"
    assert [gate.admit(EVE), gate.admit(EVE), gate.admit(None)] == [True, False, False]
    assert [gate.admit(7000 + i) for i in range(4)] == [True, True, False, False], "at most 3 a minute in all"
    assert gate.drops_to_report() == 4 and gate.drops_to_report() == 0
    now[0] = 61.0
    assert gate.admit(EVE), "a minute later"
    cut = fit("line\n" * 2000)
    assert cut.cut and len(cut.text) <= MAX_MESSAGE and cut.text.endswith("... (cut)")
    assert fit("short") == fit("short", MAX_MESSAGE) and not fit("short").cut


def _update(update_id: int, user: int, **message: object) -> dict[str, object]:
    body = {"message_id": update_id, "date": 1, "chat": {"id": user, "type": "private"}, "text": "/status",
            "from": {"id": user, "is_bot": False, "first_name": "u"}, **message}  # fmt: skip
    return {"update_id": update_id, "message": {k: v for k, v in body.items() if v is not None}}


def test_each_batch_drops_strangers_unread_and_skips_an_update_the_library_failed_to_read() -> None:
    skipped: list[object] = []
    screen = UpdatesRequest(StrangerGate(frozenset({ANN})), lambda raw, _: skipped.append(raw["update_id"])).screen
    kept = screen([_update(1, ANN), _update(2, EVE), _update(3, EVE), _update(4, EVE)])
    assert kept == [_update(1, ANN), _update(2, EVE), {"update_id": 4}], "Eve's second: dropped, its id kept last"
    broken = [_update(5, ANN, date=None), _update(6, ANN)]
    assert screen(broken) == broken, "the first time the library reads the batch (and fails)"
    assert screen(broken) == [{"update_id": 5}, _update(6, ANN)] and skipped == [5], "its retry skips the update"


def _bot(url: str, api: str, **env: str) -> subprocess.Popen[str]:
    variables = {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": api,
                 "TELEGRAM_ALLOWED_USERS": f"{ANN},{BOB}", "PYTHONUNBUFFERED": "1", **env}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "worker.chat"], cwd=ROOT, env=variables,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def test_the_bot_answers_refuses_and_its_stop_is_carried_out_by_the_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    with_params(url)
    worker = start_worker(url, speed="600")
    transcript: list[str] = []
    with fake_telegram() as (fake, api):
        bot = _bot(url, api, CHAT_CONFIRM_SECONDS="0.5", CHAT_MAX_COMMANDS_PER_MINUTE="30")
        try:
            poll(url, "SELECT count(*) FROM workerstatus WHERE stopped = 0", lambda n: n == 1, proc=worker)

            def ask(user: int, command: str, count: int) -> dict[str, object]:
                fake.send_command(user, command)
                reply = fake.wait_for(user, count)[-1]
                transcript.append(f"user {user}> {command}\nbot> {reply['text']}\n")
                return reply

            status = ask(ANN, "/status", 1)
            assert str(status["text"]).startswith("Trading state: ACTIVE") and status["parse_mode"] is None
            assert str(ask(EVE, "/stop", 1)["text"]).startswith("Not allowed")
            assert str(ask(ANN, "/stop phone test", 2)["text"]).startswith("Stop recorded")
            poll(url, "SELECT halt_applied_at IS NOT NULL FROM controlstate", lambda v: v == 1, proc=worker)
            question = ask(ANN, "/resume", 3)
            time.sleep(1.0)  # the confirmation (0.5 s) has expired by the press
            fake.press(ANN, question, "Confirm")
            expired = fake.wait_for(ANN, 4)[-1]
            transcript.append(f"user {ANN}> [Confirm, late]\nbot> {expired['text']}\n")
            assert str(expired["text"]).startswith("Expired") and expired["method"] == "editMessageText"
            assert rows(url, "SELECT state FROM controlstate") == [("HALTED",)]
            for _ in range(25):  # a flood: every command answered, none lost, the bot still up
                fake.send_command(BOB, "/pnl")
            replies = fake.wait_for(BOB, 25)
            assert all(str(r["text"]).startswith(("today:", "Too many")) for r in replies)
            transcript.append(f"user {BOB}> /pnl x25\nbot> {replies[-1]['text']}\n")
            for command in ("/positions", "/trades", "/risk", "/stopentry", "/help"):
                ask(ANN, command, len(fake.wait_for(ANN, 4)) + 1)
            assert bot.poll() is None, "the bot is still running"
        finally:
            bot.terminate()
            worker.terminate()
            bot.wait(timeout=30)
            worker.wait(timeout=60)
    audited = rows(url, "SELECT outcome, count(*) FROM chat_command GROUP BY outcome ORDER BY outcome")
    assert ("not_allowed", 1) in audited and ("expired", 1) in audited
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "replies.txt").write_text("\n".join(transcript))


def test_without_a_token_the_command_says_it_is_not_configured() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "worker.chat"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0 and "not configured" in done.stdout
