"""Shared pieces of the console tests: a seeded database from a real backtest, and AppTest
helpers that open a page of the real multipage app."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from streamlit.testing.v1 import AppTest

from tests.conftest import ACTIVE_PARAMS, TEST_DAY, with_params
from tests.schema_template import copy_sqlite
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions

APP = str(
    Path(__file__).resolve().parent / "apps" / "console_app.py"
)  # its own folder: tests/console would shadow console
PAGES = ("overview", "trades", "decisions", "parity", "risk", "readiness", "parameters", "models", "audit")
# Loss limits relaxed so that a short backtest keeps trading instead of halting on day one.
SEED_PARAMS = {**ACTIVE_PARAMS, "daily_loss_limit_pct": -90.0, "max_drawdown_pct": -95.0}


_SEEDED: dict[int, Path] = {}  # days -> this process's seeded template file


def seed_database(url: str, days: int = 4) -> None:
    """A real backtest on the simulator: trades, orders, fills, decisions and equity rows. The
    backtest (seeded, so the same rows every time) runs once per process and `days`; each new
    SQLite file gets a copy of its result."""
    target = make_url(url).database
    assert make_url(url).get_backend_name() == "sqlite" and target and not Path(target).exists(), url
    if days not in _SEEDED:
        folder = Path(tempfile.mkdtemp(prefix="seeded-"))
        atexit.register(shutil.rmtree, folder, True)
        template = folder / f"seeded-{days}.db"
        template_url = f"sqlite:///{template}"
        with_params(template_url, **SEED_PARAMS)
        run_backtest(RunOptions(db=template_url, seed=7, flush_every=60), end=TEST_DAY, days=days, run_id="seed")
        _SEEDED[days] = template
    copy_sqlite(_SEEDED[days], Path(target))


def open_page(url: str, page: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CONSOLE_OPERATOR", "alice")
    monkeypatch.delenv("CONSOLE_PASSWORD_HASH", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page != "overview":
        at.switch_page(f"../../pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(str(m.value) for m in at.metric if m.label == label)


def rows(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    """Every row of `sql` on `url`, as tuples."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params).all()]
    finally:
        engine.dispose()


def scalar(url: str, sql: str, **params: object) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def demo_database(folder: Path) -> str:
    """A migrated SQLite file with the demo preset applied, as a fresh `make run` starts it."""
    from db.control import bootstrap
    from db.engine import make_engine
    from db.migrate import upgrade
    from db.presets import apply_demo_preset

    url = f"sqlite:///{folder / 'demo.db'}"
    upgrade(url)
    engine = make_engine(url)
    bootstrap(engine)
    assert apply_demo_preset(engine) is not None
    engine.dispose()
    return url
