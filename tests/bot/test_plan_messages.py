"""How a plan reads in chat: escaped HTML messages under Telegram's limit, `<pre>` blocks never cut."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import given, settings, strategies as st

from bot.format import TELEGRAM_LIMIT as MAX_MESSAGE_CHARS, plan_messages as rich_messages
from rebalance import Plan
from tests.rebalance.test_render import NOW, line, make_plan


def plan_messages(plan: Plan) -> list[str]:
    """The plan's chat messages as Telegram receives them."""
    return [m.html() for m in rich_messages(plan)]


class TagChecker(HTMLParser):
    """Collects tags and text; Telegram accepts only a few tags, properly nested."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.tags: set[str] = set()
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)
        self.tags.add(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack}"
        self.stack.pop()

    def handle_data(self, data):
        self.text += data


def parse(message: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(message)
    checker.close()
    assert not checker.stack, f"unclosed {checker.stack}"
    assert checker.tags <= {"b", "pre"}
    return checker


def test_a_small_plan_is_one_message_with_header_table_totals_and_notes():
    plan = make_plan([line("035720", 5, 0, 40_000, "카카오"), line("005930", 10, 14)], notes=("keep calm",))
    [message] = plan_messages(plan)
    text = parse(message).text
    assert "Rebalance plan abcd1234" in text
    assert "Total value" in text and "100,000,000" in text and "98,000,000" in text
    assert "Prices of 09:30:05 KST, good to 09:35:05" in text
    assert "035720 카카오" in text and "-5" in text and "200,000" in text
    assert "005930 삼성전자" in text and "10→14" in text and "+4" in text and "280,000" in text
    assert "0.7→0.98" not in text and "0.7→1.0" in text  # weights in percent, one decimal
    assert re.search(r"Sells \(1\) +200,000", text) and re.search(r"Buys \(1\) +280,000", text)
    assert re.search(r"Est\. costs +1,234", text)
    assert re.search(r"Cash after +4,918,766", text)  # 5,000,000 + 200,000 - 280,000 - 1,234
    assert "• keep calm" in text
    assert text.index("035720") < text.index("Totals") < text.index("Notes")


def test_everything_from_data_is_html_escaped():
    plan = make_plan([line("005930", 1, 2, name="<b>A&B</b>")], notes=("use <pre> & 'quotes'",))
    [message] = plan_messages(plan)
    assert "<b>A&B" not in message and "&lt;b&gt;A&amp;B" in message
    assert "use &lt;pre&gt; &amp; " in message
    assert "use <pre> & 'quotes'" in parse(message).text


def test_a_long_plan_is_split_into_messages_under_the_limit_without_breaking_pre_blocks():
    lines = [line(f"{i:06d}", i, i + 3, 1_000 + i, name=f"종목{i}<&>") for i in range(1, 201)]
    notes = tuple(f"note {i} about <this> & that" for i in range(60))
    messages = plan_messages(make_plan(lines, notes))
    assert len(messages) > 2
    texts = []
    for message in messages:
        assert len(message) <= MAX_MESSAGE_CHARS
        texts.append(parse(message).text)  # every <pre> opened in a message is closed in it
    joined = "\n".join(texts)
    for i in range(1, 201):  # every stock shown once, its two lines together
        assert joined.count(f"{i:06d} 종목{i}<&>") == 1
        assert re.search(rf"{i:06d} 종목{i}<&> .*\n +{1_000 + i:,} +{i:,}→{i + 3}", joined)
    assert "Stocks (won, shares, % of total) (continued)" in joined
    assert all(f"• note {i} about <this> & that" in joined for i in range(60))
    assert messages[0].startswith("<b>Rebalance plan abcd1234</b>")


def test_a_note_longer_than_a_message_is_cut_to_fit():
    messages = plan_messages(make_plan([line("005930", 1, 2)], notes=("&" * 10_000,)))
    assert all(len(m) <= MAX_MESSAGE_CHARS for m in messages)
    assert messages[-1].endswith("…")
    for message in messages:
        parse(message)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(1, 10**7),
                          st.text(max_size=30)), max_size=120),
       st.lists(st.text(max_size=500), max_size=20))
def test_any_plan_renders_to_well_formed_messages_under_the_limit(rows, notes):
    lines = [line(f"{i:06d}", cur, tgt, price, name) for i, (cur, tgt, price, name) in enumerate(rows)]
    messages = plan_messages(make_plan(lines, tuple(notes)))
    assert messages and all(len(m) <= MAX_MESSAGE_CHARS for m in messages)
    text = "\n".join(parse(m).text for m in messages)
    assert all(f"{i:06d} " in text for i in range(len(rows)))


def test_an_empty_account_still_gets_a_plan_message():
    plan = Plan(id="x", lines=(), cash=0, total_value=0, investable=0, est_costs=0, priced_at=NOW, expires_at=NOW)
    assert plan_messages(plan)
