"""The Mini App editor's bot side: the fragment it opens with, its Save as one /model version, each refusal,
the allow-list, and no order path (bot/webapp.py, BotService.webapp_save, the Telegram handler)."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot import webapp
from bot.settings import load_bot_settings
from kis.config import Source
from kis.errors import ConfigError
from kis.models import Quote
from rebalance.i18n import Lang, using
from rebalance.model_store import replay
from rebalance.options import PlanOptions
from rebalance.saved_model import ModelStore, load_model
from bot_fakes import FakeClient, make_service
from tg_harness import OWNER, STRANGER, BotRunner

ACCOUNT = "50087375-01"
URL = "https://owner.github.io/kisbot/model.html"
ALLOWED = frozenset({OWNER})


def texts(replies) -> str:
    return "\n".join(r.text for r in replies)


class Names:
    """The name book: what KIS's quotes named."""

    def __init__(self, client):
        self.client, self.seen = client, {}

    def known(self, codes):
        return {c: self.seen[c] for c in codes if c in self.seen}

    def fill(self, quotes):
        self.seen.update({c: q.name for c, q in quotes.items() if q.name})
        return self.known(quotes)


def a_service(tmp_path, **kwargs):
    client = FakeClient()
    client.quotes["069500"] = Quote("069500", 35_000, 0, 0.0, name="KODEX 200")
    service, client, executor, planner, clock = make_service(models=ModelStore(tmp_path, ACCOUNT), client=client,
                                                             names=Names(client), **kwargs)
    for words in (["add", "005930", "30"], ["add", "000660", "20"], ["band", "000660", "3"], ["cash", "2"]):
        clock.advance(minutes=1)
        service.model(words)
    return service, client, executor, planner, clock


def source(**env) -> Source:
    return Source(environ=env, dotenv_path=Path("/nonexistent/.env"), use_keyring=False)


def payload(rows, cash=2.0, **extra) -> str:
    return json.dumps({"v": 1, "rows": rows, "cash": cash, **extra})


GOOD_ROWS = [{"code": "005930", "target": 35.0}, {"code": "000660", "target": 20.0, "band": 3.0}]


def save(service, data, chat=OWNER):
    return service.webapp_save(data, chat=chat, allowed=ALLOWED)


def versions(tmp_path):
    return ModelStore(tmp_path, ACCOUNT).versions().versions()


def test_a_good_save_makes_one_version_and_answers_with_the_diff_and_the_sum(tmp_path):
    service, *_ = a_service(tmp_path)
    before = len(versions(tmp_path))
    replies, changed = save(service, payload([{"code": "005930", "target": 35}, {"code": "000660", "target": 15.5,
                                                                                   "band": 2.5}], cash=3))
    text = texts(replies)
    assert changed and len(versions(tmp_path)) == before + 1
    assert "Version 5: Mini App editor (2 stocks)" in text
    assert "005930" in text and "30.0% → 35.0%" in text and "20.0% → 15.5%" in text and "±3.0 → ±2.5%p" in text
    assert "cash 2.0% → 3.0%" in text and "50.5% assigned" in text and "46.5% unassigned" in text
    saved = load_model(tmp_path, ACCOUNT)
    assert saved.weights == {"005930": 0.35, "000660": 0.155} and saved.bands["000660"] == 0.025 and saved.cash == 0.03
    log = versions(tmp_path)
    assert log[-1].who == f"chat {OWNER}" and log[-1].op["op"] == "page"
    states, _ = replay(log)
    assert states[log[-1].id] == log[-1].state  # the saved model equals a replay of its log
    assert "Mini App editor (2 stocks)" in texts(service.model(["history"]))


def test_a_row_the_page_leaves_out_is_removed_and_undo_brings_it_back(tmp_path):
    service, *_ = a_service(tmp_path)
    replies, changed = save(service, payload([{"code": "005930", "target": 30}]))
    assert changed and "20.0% → -" in texts(replies)
    assert load_model(tmp_path, ACCOUNT).portfolio.codes == ("005930",)
    service.model(["undo"])
    assert load_model(tmp_path, ACCOUNT).bands == {"005930": None, "000660": 0.03}


def test_a_save_that_changes_nothing_makes_no_version_and_keeps_exact_fractions(tmp_path):
    service, *_ = a_service(tmp_path)
    service.model(["set", "005930", "33.33333"])  # percent(0.3333333) = 33.3333: what the page shows and sends back
    before = versions(tmp_path)
    replies, changed = save(service, payload([{"code": "005930", "target": 33.3333},
                                              {"code": "000660", "target": 20, "band": 3}], cash=2))
    assert not changed and "unchanged" in texts(replies) and versions(tmp_path) == before
    replies, changed = save(service, payload([{"code": "005930", "target": 33.3333},
                                              {"code": "000660", "target": 21, "band": 3}], cash=2))
    assert changed and load_model(tmp_path, ACCOUNT).weights["005930"] == 0.3333333  # not 0.333333


@pytest.mark.parametrize(("data", "says"), [
    ("x" * 4097, "4097 bytes, more than the 4096"),
    ("{not json", "not JSON"),
    (json.dumps({"v": 2, "rows": GOOD_ROWS, "cash": 2}), "version 2 of the editor's format"),
    (json.dumps({"v": True, "rows": GOOD_ROWS, "cash": 2}), "version True"),
    (json.dumps([1, 2]), "version -"),
    (json.dumps({"v": 1, "rows": GOOD_ROWS}), "not a model of rows and cash"),
    (json.dumps({"v": 1, "rows": GOOD_ROWS, "cash": 2, "amount": 5_000_000}), "unexpected: amount"),
    (payload([{"code": "005930", "target": 30, "qty": 3}]), "row 1 is not a stock code with a target"),
    (payload([{"code": "005930"}]), "row 1 is not"),
    (payload([{"code": "0059301", "target": 30}]), "'0059301' is not a 6-character stock code"),
    (payload([{"code": "005930", "target": 30}, {"code": "005930", "target": 1}]), "005930 appears twice"),
    (payload([{"code": "005930", "target": -1}]), "005930: the target -1 is outside 0 to 100"),
    (payload([{"code": "005930", "target": "30"}]), "005930: the target '30' is not a number"),
    (payload([{"code": "005930", "target": True}]), "the target 'True' is not a number"),
    ('{"v": 1, "rows": [{"code": "005930", "target": NaN}], "cash": 2}', "not JSON"),
    (payload([{"code": "005930", "target": 30, "band": 100}]), "the band 100 is outside 0 to 100"),
    (payload([{"code": "005930", "target": 30, "band": "wide"}]), "the band 'wide' is not a number"),
    (payload(GOOD_ROWS, cash=-2), "the cash -2 is outside 0 to 100"),
    (payload(GOOD_ROWS, base=0), "unexpected: base"),
])
def test_each_bad_payload_is_refused_naming_the_problem_and_nothing_is_saved(tmp_path, data, says):
    service, *_ = a_service(tmp_path)
    before = versions(tmp_path)
    replies, changed = save(service, data)
    text = texts(replies)
    assert not changed and says in text and "Nothing was saved from the editor" in text, text
    assert versions(tmp_path) == before


def test_weights_over_100_percent_are_refused_naming_the_rows(tmp_path):
    service, *_ = a_service(tmp_path)
    before = versions(tmp_path)
    replies, changed = save(service, payload([{"code": "005930", "target": 70}, {"code": "000660", "target": 29.5}]))
    text = texts(replies)
    assert not changed and versions(tmp_path) == before
    assert "101.5% with 2.0% cash, over 100 %" in text and "005930 70.0%" in text and "000660 29.5%" in text


def test_a_code_kis_does_not_list_is_refused_and_one_it_lists_is_added_with_its_name(tmp_path):
    service, client, *_ = a_service(tmp_path)
    replies, changed = save(service, payload([*GOOD_ROWS, {"code": "123456", "target": 5}, {"code": "0013V0",
                                                                                           "target": 1}]))
    assert not changed and "KIS does not list 123456, 0013V0" in texts(replies)
    replies, changed = save(service, payload([*GOOD_ROWS, {"code": "069500", "target": 5}]))
    assert changed and "069500" in texts(replies) and "KODEX 200" in texts(replies)
    assert load_model(tmp_path, ACCOUNT).portfolio.targets[-1].name == "KODEX 200"


def test_a_page_opened_on_an_older_version_is_refused(tmp_path):
    service, *_ = a_service(tmp_path)
    service.model(["set", "005930", "31"])  # edited in the chat after the editor opened on version 4
    replies, changed = save(service, payload(GOOD_ROWS, base=4))
    assert not changed and "opened on version 4 and the model is at version 5" in texts(replies)
    replies, changed = save(service, payload(GOOD_ROWS, base=5))
    assert changed


def test_a_save_from_a_chat_outside_the_allow_list_is_refused(tmp_path):
    service, *_ = a_service(tmp_path)
    before = versions(tmp_path)
    replies, changed = save(service, payload(GOOD_ROWS), chat=STRANGER)
    assert not changed and "This bot is private" in texts(replies) and versions(tmp_path) == before


def test_a_save_never_reaches_an_order_path(tmp_path):
    service, client, executor, planner, clock = a_service(tmp_path)
    offer = service.plan([])
    service.shown(offer[-1].offers)
    pending = service._pending(0)
    for data in (payload(GOOD_ROWS), "/confirm", json.dumps({"v": 1, "confirm": pending.plan.id})):
        replies, _ = service.webapp_save(data, chat=0, allowed={0})
        assert all(not r.buttons for r in replies)  # no Confirm (nor any) button
    assert executor.started == [] and service._pending(0) is pending  # the offered plan is untouched
    assert len(planner.made) == 1  # and no new plan was made


def test_the_editor_link_carries_codes_and_weights_only(tmp_path):
    service, client, *_ = a_service(tmp_path, plan_options=PlanOptions(band=2))
    with using(Lang.KO):
        replies = service.with_model_editor(service.model(), URL, chat=OWNER)
    link = replies[-1].app
    assert link.startswith(URL + "#m=") and urlsplit(link).query == ""  # the fragment never reaches the host
    data = webapp.decode(link.split("#m=", 1)[1])
    assert data["rows"] == [{"code": "005930", "target": 30.0}, {"code": "000660", "target": 20.0, "band": 3.0}]
    assert data["cash"] == 2.0 and data["base"] == 4 and data["dband"] == 2 and data["lang"] == "ko"
    assert data["names"] == {"005930": "삼성전자", "000660": "SK하이닉스"}
    assert data["now"] == {"005930": round(100 * 710_000 / 1_675_800, 1), "000660": 0}  # of the investable
    text = json.dumps(data, ensure_ascii=False)
    assert ACCOUNT not in text and "50087375" not in text and "710000" not in text and "1000000" not in text
    assert set(data) == {"v", "base", "rows", "cash", "names", "now", "dband", "model", "lang"}


def test_the_editor_opens_without_weights_now_when_kis_does_not_answer(tmp_path):
    service, client, *_ = a_service(tmp_path)
    client.fail = RuntimeError("KIS is away")
    link = service.with_model_editor(service.model(), URL, chat=OWNER)[-1].app
    assert webapp.decode(link.split("#m=", 1)[1])["now"] == {}


def test_a_model_too_large_for_the_editor_gets_a_sentence_instead_of_the_button(tmp_path):
    service, client, executor, planner, clock = make_service(models=ModelStore(tmp_path, ACCOUNT))
    rows = [{"code": f"{100000 + i:06d}", "weight": 0.0009, "band": 0.0125, "name": ""} for i in range(120)]
    ModelStore(tmp_path, ACCOUNT).versions().apply({"op": "load", "targets": rows, "source": "big.xlsx"},
                                                   who="file", at=clock())
    replies = service.with_model_editor(service.model(), URL, chat=OWNER)
    assert not replies[-1].app and "do not fit in the 4096 bytes" in replies[-1].text


def test_no_model_means_no_button(tmp_path):
    service, *_ = make_service(models=ModelStore(tmp_path, ACCOUNT))
    replies = service.with_model_editor(service.model(), URL, chat=OWNER)
    assert [r.app for r in replies] == [""] and "No model portfolio is saved yet" in texts(replies)


def test_kisbot_webapp_url_must_be_https_without_a_fragment():
    base = {"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_ALLOWED_CHAT_IDS": "1"}
    assert load_bot_settings(source(**base)).webapp_url == ""
    assert load_bot_settings(source(**base, KISBOT_WEBAPP_URL=f" {URL} ")).webapp_url == URL
    for bad in ("http://owner.github.io/model.html", "https://owner.github.io/model.html#x", "model.html",
                "https:// spaced.example/"):
        with pytest.raises(ConfigError, match="KISBOT_WEBAPP_URL=.* is not an https:// address"):
            load_bot_settings(source(**base, KISBOT_WEBAPP_URL=bad))


def test_the_page_is_one_small_file_whose_sentences_are_the_catalogues():
    html = webapp.page_html()
    assert len(html.encode()) < 30_000
    assert not re.search(r'<(script|link)[^>]+(src|href)="(?!https://telegram\.org/js/telegram-web-app\.js)', html)
    mirrored = json.loads(re.search(r'<script type="application/json" id="strings">(.*?)</script>', html, re.S)[1])
    assert set(mirrored) == {lang.value for lang in Lang}
    for lang in Lang:
        assert mirrored[lang.value] == webapp.page_strings(lang), f"model.html's {lang.value} strings differ from the catalogue"


def test_web_app_data_in_the_chat_is_applied_and_a_strangers_is_refused_by_the_gate(api, tmp_path):
    service, client, executor, *_ = a_service(tmp_path)
    before = len(versions(tmp_path))
    runner = BotRunner(api, service)
    runner.settings = replace(runner.settings, webapp_url=URL)
    with runner:
        api.send_text(OWNER, "/model")
        shown = api.wait_sent(OWNER, 1)[0]
        keyboard = shown.params["reply_markup"]["keyboard"]
        assert keyboard[0][0]["text"] == "Edit model" and keyboard[0][0]["web_app"]["url"].startswith(URL + "#m=")
        api.send_web_app_data(STRANGER, payload(GOOD_ROWS))
        api.wait_sent(STRANGER, 1)
        api.send_web_app_data(OWNER, payload(GOOD_ROWS))
        answer = api.wait_sent(OWNER, 2)[1]
    assert "30.0% → 35.0%" in answer.text and "Version 5" in answer.text
    fresh = answer.params["reply_markup"]["keyboard"][0][0]["web_app"]["url"]
    assert webapp.decode(fresh.split("#m=", 1)[1])["base"] == 5  # the button now opens the new version
    assert len(versions(tmp_path)) == before + 1 and executor.started == []
    assert "This bot is private" in api.calls_to("sendMessage", chat_id=STRANGER)[0].text


def test_without_kisbot_webapp_url_model_shows_no_button(api, tmp_path):
    service, *_ = a_service(tmp_path)
    with BotRunner(api, service):
        api.send_text(OWNER, "/model")
        shown = api.wait_sent(OWNER, 1)[0]
    assert "keyboard" not in (shown.params.get("reply_markup") or {})


def random_saves(seed: int, count: int):
    """`count` steps: mostly Mini App saves (some over 100 %, some of new codes), chat edits and undos."""
    import random

    rng = random.Random(seed)
    pool = ["005930", "000660", "035720", "069500", "0013V0", "005380"]
    for _ in range(count):
        roll = rng.random()
        if roll < 0.15:
            yield "words", ["undo"]
        elif roll < 0.3:
            yield "words", ["set", rng.choice(pool), f"{rng.randrange(0, 40)}"]
        else:
            rows = [{"code": c, "target": rng.randrange(0, 61) / 2,
                     **({} if rng.random() < 0.5 else {"band": rng.randrange(0, 11) / 2})}
                    for c in rng.sample(pool, rng.randrange(1, len(pool) + 1))]
            yield "page", payload(rows, cash=rng.randrange(0, 11) / 2)


def test_after_many_random_saves_the_model_equals_a_replay_of_its_log_and_undo_restores_exactly(tmp_path):
    from bot.model_edits import ModelContext, model_command
    from bot_fakes import T0
    from datetime import timedelta

    store = ModelStore(tmp_path, ACCOUNT).versions()
    clock = [T0]

    def now():
        clock[0] += timedelta(seconds=1)
        return clock[0]

    context = ModelContext(who=f"chat {OWNER}", now=now)
    model_command(store, ["add", "005930", "10"], context)
    saved = 0
    for kind, step in random_saves(20260302, 300):
        before = store.current()
        if kind == "page":
            saved += webapp.save(store, step, context, chat=OWNER, allowed=ALLOWED)[1]
        else:
            model_command(store, step, context)
        after = store.current()
        if step == ["undo"] and after != before:
            assert after.state == store.version(before.parent).state
    log = store.versions()
    states, named = replay(log)
    assert all(states[v.id] == v.state for v in log) and states[log[-1].id] == store.current().state
    assert saved > 150 and sum(v.op["op"] == "page" for v in log) == saved  # most saves are accepted
