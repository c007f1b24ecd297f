"""Display helpers shared by the pages."""

from __future__ import annotations

import re

import pandas as pd

MARKET_TZ = "America/New_York"


def in_new_york(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as the console shows it: every timestamp in market time (America/New_York), to
    the minute, its column labelled "(ET)"; a position's direction as call or put."""
    out = frame.copy()
    renamed = {}
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert(MARKET_TZ).dt.strftime("%Y-%m-%d %H:%M")
            renamed[col] = f"{col} (ET)"
    if "direction" in out.columns:
        out["direction"] = out["direction"].map({1: "call", -1: "put", 0: "flat"}).fillna(out["direction"])
    return out.rename(columns=renamed)


# Everything Streamlit's markdown gives a meaning to: CommonMark (links, images, emphasis, code,
# headings, lists, tables, raw HTML), plus its own extensions (`:color[...]`, `:material/icon:`,
# `$latex$`). Escaped with a backslash, each shows as itself.
_MARKDOWN_SPECIALS = frozenset("\\`*_{}[]()#+-.!|<>~:$&")


def dollars(text: object) -> str:
    """The console's own sentence made safe for markdown when it names dollar amounts: Streamlit
    reads the text between two `$` as math (KaTeX) and drops the signs, so each `$` is escaped and
    shows as written. Text from outside the product needs `plain` instead (which escapes `$` too)."""
    return str(text).replace("$", "\\$")


# GitHub's autolinks (a bare http://, https://, www. or e-mail address) are found in the text after
# escapes are read, so no escape stops them: an invisible word joiner after the scheme, the `www`
# or the `@` does, and the text still reads the same.
_AUTOLINKS = re.compile(r"(?i)(?:https?(?=:)|www(?=\.)|@)")
WORD_JOINER = "\u2060"


def plain(text: object) -> str:
    """`text` from outside the product (an operator's note, a broker's message, a client order id)
    made safe to put inside markdown: every character markdown would act on is escaped, so a
    link, an image, math or an HTML tag in it shows as its own characters and loads nothing, and
    a bare address is not made a link."""
    out = []
    for ch in _AUTOLINKS.sub(lambda m: m.group(0) + WORD_JOINER, str(text)):
        if ch in _MARKDOWN_SPECIALS:
            out.append("\\" + ch)
        elif ch in "\r\n":
            out.append(" ")  # a line break could start a heading or a list
        else:
            out.append(ch)
    return "".join(out)
