"""Text the operator or the broker wrote is shown as itself: a link, an image or HTML in a
parameter note, a stop summary or a client order id loads nothing and links nowhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from sqlalchemy import create_engine, text

from console.formatting import plain
from db.control import save_param_version
from tests.conftest import with_params
from tests.console_helpers import open_page

NASTY = (
    "![x](http://evil.example/pixel.png) [Confirm your password](http://evil.example/login) "
    "<img src=x onerror=alert(1)> **bold** :red[red] $x^2$ `code`\n# heading"
)
RENDER = MarkdownIt("commonmark")


def _html(markdown: str) -> str:
    return RENDER.render(markdown)


def test_plain_text_renders_as_itself() -> None:
    html = _html(plain(NASTY))
    assert "<a " not in html and "<img" not in html and "<strong>" not in html and "<h1>" not in html
    assert "Confirm your password" in html and "evil.example/login" in html  # shown, not linked


def test_a_parameter_note_and_a_stop_summary_render_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'nasty.db'}"
    with_params(url, min_confidence=0.6)
    engine = create_engine(url)
    save_param_version(engine, {"min_confidence": 0.65}, author="mallory", note=NASTY)
    with engine.begin() as conn:
        conn.execute(text("UPDATE controlstate SET state = 'HALTED', halt_summary = :s"), {"s": NASTY})
    engine.dispose()
    for page in ("parameters", "overview"):
        at = open_page(url, page, monkeypatch)
        shown = [m.value for m in (*at.markdown, *at.error, *at.success, *at.caption, *at.info) if "evil" in m.value]
        assert shown, f"{page}: the text is shown"
        for markdown in shown:
            html = _html(markdown)
            assert "<a " not in html and "<img" not in html, f"{page}: {markdown!r}"
