"""The chat bot as a process of its own against the fake Bot API, under the conditions the issue
found it failing in: a backlog of strangers' and operators' commands queued ahead of a /stop, an
operator past the flood limit, a command for another bot, an old message edited into a command,
an update the library cannot parse, a reply over 4,096 characters, a reply Telegram refuses,
someone else's tap on a confirmation, and a close the worker refuses. No wall-clock bound is
asserted: every wait is for a condition, with a generous timeout for a stuck bot."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from db import control_requests
from db.engine import make_engine
from tests.conftest import with_params
from tests.console_helpers import rows
from tests.fake_telegram import MAX_TEXT, TOKEN, FakeTelegram, fake_telegram
from tests.support import ROOT, poll
from tests.worker.test_chat import _trade

ANN, BOB, CAROL = 1001, 1002, 1003  # allow-listed; strangers are 50000 and up
STRANGERS = [50_000 + i for i in range(300)]


def _bot(url: str, api: str, **env: str) -> subprocess.Popen[str]:
    variables = {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": api,
                 "TELEGRAM_ALLOWED_USERS": f"{ANN},{BOB},{CAROL}", "PYTHONUNBUFFERED": "1", **env}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "worker.chat"], cwd=ROOT, env=variables,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def _texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    with fake.lock:
        return [str(m["text"]) for m in fake.sent if int(m["chat_id"]) == chat_id]


def _ask(fake: FakeTelegram, user: int, text: str) -> dict[str, Any]:
    """Send `text` as `user` and return the bot's next message to them."""
    before = len(_texts(fake, user))
    fake.send_command(user, text)
    return fake.wait_for(user, before + 1)[before]


def _stop_behind_a_backlog(fake: FakeTelegram, url: str, bot: subprocess.Popen[str], asked: int) -> None:
    """Ann's /stop queued behind Ann's own flood, Bob's slow one and 1,500 strangers' commands."""
    fake.slow_chats[BOB] = 0.1  # Bob's replies take a while: his flood is still being answered
    fake.hold()
    for _ in range(25):
        fake.send_command(ANN, "/pnl")  # past her limit of 20 a minute
    for _ in range(30):
        fake.send_command(BOB, "/pnl")
    for n in range(1500):
        fake.send_command(STRANGERS[n % len(STRANGERS)], "/stop")
    fake.send_command(ANN, "/stopentry@otherbot")
    fake.edit_command(ANN, asked, "/stopentry")
    fake.send_command(ANN, "/stop\nspread blew out")
    fake.release()
    poll(url, "SELECT state FROM controlstate", lambda s: s == "HALTED", timeout_s=120, proc=bot)
    fake.wait_until(lambda f: any(t.startswith("Stop recorded") for t in _texts(f, ANN)))
    bob = fake.wait_for(BOB, 30, timeout_s=120)
    with fake.lock:
        order = [(int(m["chat_id"]), str(m["text"])) for m in fake.sent]
    stop_at = next(i for i, (chat, text) in enumerate(order) if chat == ANN and text.startswith("Stop recorded"))
    assert stop_at < order.index((BOB, str(bob[-1]["text"]))), "the stop went while Bob's flood was still queued"
    fake.wait_until(lambda f: any(t.startswith("Edited messages are not carried out") for t in _texts(f, ANN)))
    assert any(t.startswith("Too many") for t in _texts(fake, ANN)), "Ann was past her limit, and still stopped"
    assert rows(url, "SELECT reason_code FROM controlevent WHERE who LIKE 'telegram:%'") == [("chat_stop",)], (
        "neither the edit nor the other bot's /stopentry was carried out"
    )
    assert rows(url, "SELECT reason FROM controlstate") == [("Emergency stop from chat: spread blew out",)]
    answered = sum(len(_texts(fake, s)) for s in STRANGERS)
    assert answered <= 10 and rows(url, "SELECT count(*) FROM chat_command WHERE outcome = 'not_allowed'") == [
        (answered,)
    ], "strangers: a few answered and audited, the rest dropped before any database work"


def _failures_are_told(fake: FakeTelegram, url: str) -> None:
    """An unreadable update is skipped and recorded; a reply Telegram refuses is audited as failed
    and the user still hears; a reply over the limit is cut; only the asker's tap confirms."""
    broken = {
        "message": {
            "message_id": 7,
            "text": "/status",
            "from": {"id": CAROL, "is_bot": False, "first_name": "carol"},
            "chat": {"id": CAROL, "type": "private"},
        }
    }  # no "date": it cannot be read
    fake.send_raw(broken)
    assert _texts(fake, CAROL) == [] and fake.wait_for(CAROL, 1)[0]["text"].startswith("Your last message could not")
    assert str(_ask(fake, CAROL, "/status@odte_bot")["text"]).startswith("Trading state: HALTED"), "answered on"
    skipped = rows(url, "SELECT user_id, outcome FROM chat_command WHERE command = 'update'")
    assert skipped == [(CAROL, "skipped_update")]
    fake.refuse_prefixes.append("today:")
    assert _ask(fake, CAROL, "/pnl")["text"] == "Something went wrong, see the log."
    fake.refuse_prefixes.clear()
    (delivery,) = rows(url, "SELECT delivery FROM chat_command WHERE command = 'pnl' AND user_id = :u", u=CAROL)[0]
    assert str(delivery).startswith("failed: BadRequest"), "a reply that did not go is not recorded as sent"
    assert rows(url, "SELECT count(*) FROM chat_command WHERE outcome = 'error' AND user_id = :u", u=CAROL) == [(1,)]
    question = _ask(fake, CAROL, "/resume " + "x" * 4050)
    fake.press(BOB, question, "Confirm")
    fake.wait_until(lambda f: any(a["text"] and a["text"].startswith("Nothing to confirm") for a in f.answers))
    assert rows(url, "SELECT state FROM controlstate") == [("HALTED",)], "Bob's tap changed nothing"
    count = len(_texts(fake, CAROL))
    fake.press(CAROL, question, "Confirm")
    assert fake.wait_for(CAROL, count + 1)[count]["text"] == "Resumed: ACTIVE.", "the question was still waiting"
    long = str(_ask(fake, CAROL, "/status")["text"])
    assert len(long) <= MAX_TEXT and long.startswith("Trading state: ACTIVE") and long.endswith("... (cut)")
    last_status = "SELECT delivery FROM chat_command WHERE command = 'status' ORDER BY id DESC LIMIT 1"
    assert poll(url, last_status, lambda d: d != "") == "sent cut", "written once the reply went"


def _close_is_followed(fake: FakeTelegram, url: str) -> None:
    """/close of a closed trade says so; a confirmed close the worker refuses is reported."""
    closed, open_ = _trade(url, "closed"), _trade(url, "open")
    said = _ask(fake, CAROL, f"/close {closed}")
    assert said["text"] == f"Trade #{closed} is already closed: nothing to do." and not said["reply_markup"]
    question = _ask(fake, CAROL, f"/close {open_} news at 10:30")
    count = len(_texts(fake, CAROL))
    fake.press(CAROL, question, "Confirm")
    assert str(fake.wait_for(CAROL, count + 1)[count]["text"]).startswith(f"Close of trade #{open_} requested")
    ((request,),) = rows(url, "SELECT id FROM controlrequest WHERE trade_id = :t", t=open_)
    engine = make_engine(url)  # the worker's answer, as worker/process/requests.py writes it
    control_requests.settle(engine, request_id=int(str(request)), status="refused",
                            result="no open position for that trade")  # fmt: skip
    engine.dispose()
    told = fake.wait_for(CAROL, count + 2)[count + 1]["text"]
    assert told == f"The worker refused the close of trade #{open_}: no open position for that trade."


def test_the_stop_always_stops_and_every_failure_is_told(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    with_params(url)
    with fake_telegram() as (fake, api):
        bot = _bot(url, api, CHAT_MAX_COMMANDS_PER_MINUTE="20")
        try:
            first = _ask(fake, ANN, "/status")
            assert str(first["text"]).startswith("Trading state: ACTIVE")
            with fake.lock:
                asked = int(fake.updates[-1]["message"]["message_id"])
            _stop_behind_a_backlog(fake, url, bot, asked)
            _failures_are_told(fake, url)
            _close_is_followed(fake, url)
            assert bot.poll() is None, "the bot is still running"
        finally:
            bot.terminate()
            output, _ = bot.communicate(timeout=60)
    assert bot.returncode == 0, output
    assert "skipped an update the bot cannot read" in output
