"""Chat text stays escaped and within Telegram's 4096 characters."""
from __future__ import annotations

from hypothesis import given, strategies as st

from bot.format import clip, plain, split_html, width


@given(st.lists(st.text(alphabet="ab<>&가 ", max_size=300), max_size=60), st.integers(min_value=200, max_value=4096))
def test_split_keeps_every_part_under_the_limit_and_pre_balanced(lines, limit):
    import html

    text = "<b>head</b>\n<pre>" + "\n".join(html.escape(l) for l in lines) + "</pre>\ntail"
    parts = split_html(text, limit)
    assert all(len(p) <= limit for p in parts)
    assert all(p.count("<pre>") == p.count("</pre>") for p in parts)
    assert plain("".join(parts)).replace("\n", "") == plain(text).replace("\n", "")


def test_width_counts_hangul_double_and_clip_respects_it():
    assert width("삼성전자") == 8 and width("NAVER") == 5
    assert clip("삼성바이오로직스", 10) == "삼성바이…" and width(clip("삼성바이오로직스", 10)) <= 10
