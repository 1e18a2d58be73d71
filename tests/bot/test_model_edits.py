"""/model edits in the chat: a model built and changed by commands, versions, undo, names, refusals."""
from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings, strategies as st

from kis.errors import UnknownStock
from kis.markets import NASD
from kis.models import Quote
from rebalance.model_store import VersionedModels, replay
from rebalance.saved_model import ModelStore, load_model
from bot_fakes import FakeClient, make_service

ACCOUNT = "50087375-01"
CODES = ["005930", "000660", "035720", "069500", "0013V0", "005380", "051910", "035420", "068270", "105560"]


def texts(replies) -> str:
    return "\n".join(r.text for r in replies)


def client_knowing_all() -> FakeClient:
    client = FakeClient()
    for code in CODES:
        client.quotes.setdefault(code, Quote(code, 10_000, 0, 0.0, name=f"종목{code}"))
    return client


def service_at(tmp_path):
    service, client, _, planner, clock = make_service(models=ModelStore(tmp_path, ACCOUNT), client=client_knowing_all())
    return service, planner, clock


def test_a_ten_row_model_is_built_and_changed_by_chat_commands_alone(tmp_path):
    service, planner, clock = service_at(tmp_path)
    for code in CODES:
        clock.advance(minutes=1)
        reply = texts(service.model(["add", code, "９%"]))  # fullwidth digits read too
        assert "→ 9.0%" in reply
    saved = load_model(tmp_path, ACCOUNT)
    assert saved.portfolio.codes == tuple(CODES) and saved.version == 10
    reply = texts(service.model(["set", "069500", "25%"]))
    assert "Refused" in reply and "106.0%" in reply and reply.index("069500 25.0%") < reply.index("005930 9.0%")
    assert texts(service.model(["rm", "005930"])).count("→ -") == 1
    reply = texts(service.model(["set", "069500", "25%"]))
    assert "9.0% → 25.0%" in reply and "97.0% assigned" in reply and "3.0% unassigned" in reply
    assert "±3.0%p" in texts(service.model(["band", "069500", "3"]))
    reply = texts(service.model(["cash", "2%"]))
    assert "cash 0.0% → 2.0%" in reply and "1.0% unassigned" in reply
    shown = texts(service.model())
    assert "25.0%" in shown and "9.0%" in shown and "±3" in shown and "9 stocks" in shown
    assert "005930" not in shown.split("\n", 2)[2]
    saved = load_model(tmp_path, ACCOUNT)
    assert saved.weights["069500"] == 0.25 and saved.bands["069500"] == 0.03 and saved.cash == 0.02
    assert "#14" in texts(service.model(["history"]))
    assert "9.0% → 25.0%" in texts(service.model(["diff", "10"]))


def test_undo_restores_the_previous_version_and_goes_further_back_when_repeated(tmp_path):
    service, *_ = service_at(tmp_path)
    service.model(["add", "005930", "50"])
    service.model(["add", "000660", "20.5%"])
    two = load_model(tmp_path, ACCOUNT)
    service.model(["set", "000660", "30"])
    service.model(["undo"])
    assert load_model(tmp_path, ACCOUNT).portfolio == two.portfolio
    service.model(["undo"])
    assert load_model(tmp_path, ACCOUNT).portfolio.codes == ("005930",)
    service.model(["undo"])
    assert "nothing to undo" in texts(service.model(["undo"]))


def test_a_sum_over_100_percent_an_unknown_code_and_a_bad_percent_are_refused_in_one_sentence(tmp_path):
    service, *_ = service_at(tmp_path)
    service.model(["add", "005930", "60"])
    service.model(["add", "000660", "30"])
    before = load_model(tmp_path, ACCOUNT)
    reply = texts(service.model(["add", "035720", "15%"]))
    assert "Refused" in reply and "035720 15.0%" in reply and "005930 60.0%" in reply and "105.0%" in reply
    assert "Refused" in texts(service.model(["cash", "11"]))
    assert "KIS does not list 999990" in texts(service.model(["add", "999990", "1"]))
    assert "'12ab' is not a 6-character stock code" in texts(service.model(["add", "12ab", "1"]))
    for bad in ("abc", "-5", "25%%", "1e3"):
        assert "is not a percentage" in texts(service.model(["set", "005930", bad])), bad
    assert "more than 100 %" in texts(service.model(["set", "005930", "101"]))
    assert "not in the model" in texts(service.model(["rm", "035720"]))
    assert "in the model already" in texts(service.model(["add", "005930", "1"]))
    assert "Use /model set" in texts(service.model(["dance"]))
    assert load_model(tmp_path, ACCOUNT) == before


def test_named_models_are_saved_used_listed_and_named_in_the_plan(tmp_path):
    service, planner, _ = service_at(tmp_path)
    service.model(["add", "005930", "50"])
    assert "'defensive'" in texts(service.model(["save", "defensive"]))
    service.model(["set", "005930", "80"])
    assert "defensive (edited)" in texts(service.model())
    service.model(["save", "growth"])
    service.model(["use", "defensive"])
    assert load_model(tmp_path, ACCOUNT).weights == {"005930": 0.5}
    listed = texts(service.model(["list"]))
    assert "defensive: 1 · 50.0% ←" in listed and "growth: 1 · 80.0%" in listed
    assert "There is no model named 'calm'" in texts(service.model(["use", "calm"]))
    assert "Planning the saved model defensive" in texts(service.plan([]))


def test_the_plan_uses_the_edited_model(tmp_path):
    service, planner, _ = service_at(tmp_path)
    service.plan_file(b"005930 000660", "m.xlsx")
    service.model(["set", "005930", "70"])
    service.model(["rm", "000660"])
    service.model(["add", "069500", "20"])
    service.plan([])
    lines = {line.code: line.target_weight for line in planner.made[-1].lines}
    assert set(lines) == {"005930", "069500"}


def random_edits(seed: int, count: int = 1000) -> list[list[str]]:
    """`count` /model edits drawn from `seed`: mostly small targets, so most are accepted."""
    import random

    rng = random.Random(seed)
    verbs = ["set"] * 4 + ["add"] * 4 + ["band"] * 2 + ["rm", "cash", "undo", "undo", "save", "use"]
    edits = []
    for _ in range(count):
        verb, code = rng.choice(verbs), rng.choice(CODES)
        edits.append({"set": [verb, code, f"{rng.randint(0, 250) / 10}%"], "add": [verb, code, f"{rng.randint(0, 250) / 10}"],
                      "band": [verb, code, f"{rng.randint(0, 500) / 100}"], "rm": [verb, code],
                      "cash": [verb, f"{rng.randint(0, 100) / 10}%"], "undo": [verb],
                      "save": [verb, rng.choice("abc")], "use": [verb, rng.choice("abc")]}[verb])
    return edits


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(seed=st.integers(0, 2**32))
def test_after_1000_random_edits_the_model_equals_a_replay_of_its_log_and_undo_restores_exactly(tmp_path_factory, seed):
    from bot.model_edits import ModelContext, model_command
    from bot_fakes import T0

    data_dir = tmp_path_factory.mktemp("models")
    store = VersionedModels(data_dir, ACCOUNT)
    clock = [T0]

    def now():
        clock[0] += timedelta(seconds=1)
        return clock[0]

    context = ModelContext(who="test", now=now)
    for words in random_edits(seed):
        verb = words[0]
        before = store.current()
        model_command(store, words, context)
        after = store.current()
        if verb == "undo" and after is not None and after != before:
            assert after.state == store.version(before.parent).state
    log = store.versions()
    states, named = replay(log)
    assert states[log[-1].id] == store.current().state and named == store.named()
    assert all(states[v.id] == v.state for v in log)
    assert len(log) > 300  # most edits are accepted: the test exercises the log, not refusals


def test_an_exported_model_is_read_back_by_the_planner_unchanged(tmp_path):
    from bot.cli_model import export_xlsx
    from bot.model_edits import ModelContext, model_command
    from bot_fakes import T0
    from rebalance.portfolio import read_portfolio

    store = VersionedModels(tmp_path, ACCOUNT)
    context = ModelContext(who="cli", now=lambda: T0)
    for words in (["add", "069500", "25.5%"], ["add", "0013V0", "5"], ["add", "005930", "33.3"],
                  ["band", "069500", "3"], ["band", "005930", "1.5%"], ["add", "000660", "0.1"]):
        model_command(store, words, context)
    state = store.current().state
    export_xlsx(state, tmp_path / "model.xlsx")
    read = read_portfolio(tmp_path / "model.xlsx")
    assert [(t.code, t.weight, t.band) for t in read.targets] == [(t.code, t.weight, t.band) for t in state.targets]


def test_kisbot_model_edits_and_exports_from_the_command_line(tmp_path, monkeypatch, capsys):
    from types import SimpleNamespace

    import kis
    from bot import cli

    client = client_knowing_all()
    client.config = SimpleNamespace(data_dir=tmp_path, account=ACCOUNT)
    monkeypatch.setattr(kis, "open_client", lambda: client)
    assert cli.main(["model", "add", "069500", "25%"]) == 0
    assert "→ 25.0%" in capsys.readouterr().out
    assert cli.main(["model", "add", "069500", "25%"]) == 1
    assert "in the model already" in capsys.readouterr().err
    assert cli.main(["model", "set", "069500", "120"]) == 1
    assert cli.main(["model", "save", "core"]) == 0 and cli.main(["model", "list"]) == 0
    assert "core" in capsys.readouterr().out
    assert cli.main(["model", "export", str(tmp_path / "m.xlsx")]) == 0
    assert (tmp_path / "m.xlsx").exists()
    assert cli.main(["model", "undo"]) == 0 and cli.main(["model", "history"]) == 0
    assert "#3" in capsys.readouterr().out


def test_a_us_ticker_added_by_chat_says_the_exchange_kis_gave_it_and_a_prefix_is_kept(tmp_path):
    service, *_ = service_at(tmp_path)
    service.client.us_market = lambda ticker: {"AAPL": NASD}[ticker]
    reply = texts(service.model(["add", "aapl", "10"]))
    assert "AAPL" in reply and "AAPL is traded on NASD (KIS's lookup)." in reply
    assert "KO is traded on NYSE (the prefix)." in texts(service.model(["add", "NYSE:KO", "10"]))
    saved = {t.code: t.market for t in load_model(tmp_path, ACCOUNT).portfolio.targets}
    assert saved == {"AAPL": "NASD", "KO": "NYSE"}


def test_a_us_ticker_no_exchange_lists_is_refused_by_name_before_any_version(tmp_path):
    service, *_ = service_at(tmp_path)

    def nowhere(ticker):
        raise UnknownStock([ticker])

    service.client.us_market = nowhere
    assert texts(service.model(["add", "ZZZZ", "10"])) == (
        "'ZZZZ' is not a stock any US exchange lists: check the ticker (KIS knows no such symbol).")
    assert load_model(tmp_path, ACCOUNT) is None


