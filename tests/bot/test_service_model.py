"""The saved model and plan options in the chat: /plan without a file, /model, and the option words."""
from __future__ import annotations

from dataclasses import replace

from rebalance.options import PlanOptions
from rebalance.saved_model import ModelStore, load_model
from bot_fakes import make_service

ACCOUNT = "50087375-01"


def texts(replies) -> str:
    return "\n".join(r.text for r in replies)


def test_a_file_that_plans_becomes_the_saved_model_and_plan_without_a_file_uses_it(tmp_path):
    service, _, _, planner, _ = make_service(models=ModelStore(tmp_path, ACCOUNT))
    assert "Send the model portfolio" in texts(service.plan([]))
    first = service.plan_file(b"005930 000660", "mine.xlsx")
    assert "Saved mine.xlsx as the model" in texts(first)
    replies = service.plan([])
    assert "Planning the saved model mine.xlsx" in texts(replies)
    assert replies[-1].buttons  # Confirm / Cancel for the new plan
    assert planner.made[-1].lines[0].code == "005930" and len(planner.made[-1].lines) == 2


def test_a_new_file_replaces_the_saved_model(tmp_path):
    service, *_ = make_service(models=ModelStore(tmp_path, ACCOUNT))
    service.plan_file(b"005930 000660", "old.xlsx")
    service.plan_file(b"035720", "new.xlsx")
    saved = load_model(tmp_path, ACCOUNT)
    assert saved.file_name == "new.xlsx" and saved.portfolio.codes == ("035720",)


def test_a_file_that_cannot_be_read_does_not_replace_the_saved_model(tmp_path):
    service, *_ = make_service(models=ModelStore(tmp_path, ACCOUNT))
    service.plan_file(b"005930", "good.xlsx")
    service.plan_file(b"bad", "broken.xlsx")
    assert load_model(tmp_path, ACCOUNT).file_name == "good.xlsx"


def test_model_shows_code_weight_and_band(tmp_path):
    service, *_ = make_service(models=ModelStore(tmp_path, ACCOUNT), plan_options=PlanOptions(band=2))
    assert "No model portfolio is saved yet" in texts(service.model())
    service.plan_file(b"005930 000660", "m.xlsx")
    text = texts(service.model())
    assert "Model m.xlsx" in text and "2 stocks" in text
    assert "005930" in text and "50.0%" in text and "±2" in text


def test_plan_words_reach_the_planner_and_bad_words_get_one_sentence(tmp_path):
    service, _, _, planner, _ = make_service(models=ModelStore(tmp_path, ACCOUNT))
    service.plan_file(b"005930", "m.xlsx", args=["buy", "500000", "keep"])
    assert planner.options[-1] == PlanOptions(buy_only=True, amount=500_000, keep_others=True)
    service.plan(["band", "2"])
    assert planner.options[-1] == PlanOptions(band=2)
    made = len(planner.made)
    for words, says in ((["buy", "sell", "5"], "buy and sell contradict"), (["sell"], "sell needs an amount"),
                        (["band", "x"], "'x' after band is not a number"), (["dance"], "I do not understand dance")):
        replies = service.plan(words)
        assert len(replies) == 1 and says in replies[0].text and not replies[0].buttons
    assert len(planner.made) == made  # no plan from bad words


def test_a_stale_plan_is_re_planned_with_the_same_options(tmp_path):
    service, _, _, planner, clock = make_service(models=ModelStore(tmp_path, ACCOUNT))
    replies = service.plan_file(b"005930", "m.xlsx", args=["band", "3"])
    service.shown(replies[-1].offers)
    clock.advance(minutes=10)
    replies = service.confirm()
    assert "expired" in texts(replies)
    assert planner.options[-1] == PlanOptions(band=3)


def test_a_plan_with_nothing_to_trade_leaves_no_older_plan_to_confirm(tmp_path):
    # The last plan shown says "nothing to trade": /confirm must not run the plan shown before it.
    service, _, executor, planner, _ = make_service(models=ModelStore(tmp_path, ACCOUNT))
    replies = service.plan_file(b"005930", "m.xlsx", args=["buy", "500000"])
    service.shown(replies[-1].offers)
    older = replies[-1].offers
    planner.on_target = True
    assert "nothing to trade" in texts(service.plan(["band", "5"]))
    replies = service.confirm()
    assert "had nothing to trade" in texts(replies) and "send a model portfolio" not in texts(replies) and not executor.started
    assert "no longer pending" in texts(service.confirm(plan_id=older)) and not executor.started


def test_price_shows_names_from_the_name_book_when_the_quote_has_none(tmp_path):
    class Names:
        def fill(self, quotes):
            return {c: "삼성전자" for c in quotes if c == "005930"}

    service, client, *_ = make_service(names=Names())
    client.quotes = {c: replace(q, name="") for c, q in client.quotes.items()}  # inquire-price carries no name
    text = texts(service.price(["005930"]))
    assert "005930 삼성전자" in text


def restarted(tmp_path, clock, **kwargs):
    """A second service on the same data dir, as after a restart of `kisbot run`."""
    from rebalance.pending import PendingPlans

    return make_service(pending_store=PendingPlans(tmp_path / "journal.sqlite3", ACCOUNT), clock=clock, **kwargs)


def test_a_pending_plan_survives_a_restart_and_confirm_runs_exactly_that_plan(tmp_path):
    service, _, _, planner, clock = restarted(tmp_path, None)
    replies = service.plan_file(b"005930 000660", "m.xlsx", args=["band", "2"])
    shown = planner.made[-1]
    service.shown(replies[-1].offers)  # the transport delivered the offer
    again, _, executor, planner2, _ = restarted(tmp_path, clock)
    assert "is pending" in texts(again.status())
    replies = again.confirm(plan_id=shown.id)
    assert "started" in texts(replies)
    # the plan shown (with the execution style the service gave it, issue 25), not a new one
    assert executor.started[0][0] == replace(shown, execution="cross") and planner2.made == []
    third, _, executor3, *_ = restarted(tmp_path, clock)
    assert "There is no plan to confirm" in texts(third.confirm())  # confirmed plans are not kept


def test_after_a_restart_a_stale_pending_plan_is_re_planned_with_its_options_and_shown(tmp_path):
    service, _, _, planner, clock = restarted(tmp_path, None)
    replies = service.plan_file(b"005930", "m.xlsx", args=["buy", "keep"])
    service.shown(replies[-1].offers)
    clock.advance(minutes=10)
    again, _, executor, planner2, _ = restarted(tmp_path, clock)
    replies = again.confirm()
    assert "expired" in texts(replies) and replies[-1].buttons and executor.started == []
    assert planner2.options[-1] == PlanOptions(buy_only=True, keep_others=True)


def test_a_plan_whose_offer_never_reached_the_user_is_not_kept_over_a_restart(tmp_path):
    service, _, _, _, clock = restarted(tmp_path, None)
    service.plan_file(b"005930", "m.xlsx")  # made, never delivered
    again, *_ = restarted(tmp_path, clock)
    assert "There is no plan to confirm" in texts(again.confirm())


def test_a_cancelled_plan_is_not_pending_after_a_restart(tmp_path):
    service, _, _, _, clock = restarted(tmp_path, None)
    replies = service.plan_file(b"005930", "m.xlsx")
    service.shown(replies[-1].offers)
    service.cancel()
    again, *_ = restarted(tmp_path, clock)
    assert "No run is active." == texts(again.status())


def test_a_saved_model_edited_past_the_file_rules_is_not_planned(tmp_path, caplog):
    """The one-file model of earlier kisbots, edited by hand past what an .xlsx may say, is not imported."""
    import json

    from rebalance.saved_model import model_path

    good = {"file_name": "m.xlsx", "saved_at": "2026-01-05T09:00:00+09:00", "source": "m.xlsx"}
    bad = [[{"code": "005930", "weight": -1}], [{"code": "005930", "weight": 5}], [{"code": "005930", "weight": "nan"}],
           [{"code": "5930", "weight": 0.1}], [{"code": "005930", "weight": 0.1, "band": 7}],
           [{"code": "005930", "weight": 0.1}] * 2]
    for number, targets in enumerate(bad):
        data_dir = tmp_path / str(number)
        data_dir.mkdir()
        service, _, _, planner, _ = make_service(models=ModelStore(data_dir, ACCOUNT))
        model_path(data_dir, ACCOUNT).write_text(json.dumps({**good, "targets": targets}), encoding="utf-8")
        caplog.clear()
        assert load_model(data_dir, ACCOUNT) is None, targets
        assert "Send the model portfolio" in texts(service.plan([]))
        assert all(r.exc_info is None for r in caplog.records)  # one line, no traceback for the user
        assert planner.made == []


def test_the_one_file_model_of_earlier_kisbots_becomes_version_one(tmp_path):
    import json

    from rebalance.saved_model import model_path

    model_path(tmp_path, ACCOUNT).write_text(json.dumps(
        {"file_name": "old.xlsx", "saved_at": "2026-01-05T09:00:00+09:00", "source": "old.xlsx",
         "targets": [{"code": "005930", "weight": 0.6}, {"code": "0013V0", "weight": 0.3, "band": 0.02}]}),
        encoding="utf-8")
    saved = load_model(tmp_path, ACCOUNT)
    assert saved.file_name == "old.xlsx" and saved.version == 1
    assert saved.portfolio.codes == ("005930", "0013V0") and saved.bands["0013V0"] == 0.02
    assert ModelStore(tmp_path, ACCOUNT).versions().versions()[0].who == "migrated"


def test_a_file_superseded_by_a_newer_one_is_not_offered_and_does_not_become_the_saved_model(tmp_path):
    service, *_ = make_service(models=ModelStore(tmp_path, ACCOUNT))
    big, small = service.file_received(), service.file_received()  # small.xlsx arrives 50 ms after big.xlsx
    assert "not offered" in texts(service.plan_file(b"005930 000660", "big.xlsx", big))
    assert load_model(tmp_path, ACCOUNT) is None
    service.plan_file(b"035720", "small.xlsx", small)
    assert load_model(tmp_path, ACCOUNT).file_name == "small.xlsx"


def test_a_superseded_file_planned_last_does_not_replace_the_newer_saved_model(tmp_path):
    service, *_ = make_service(models=ModelStore(tmp_path, ACCOUNT))
    big, small = service.file_received(), service.file_received()
    service.plan_file(b"035720", "small.xlsx", small)  # the newer file's plan is made first
    assert "not offered" in texts(service.plan_file(b"005930 000660", "big.xlsx", big))
    saved = load_model(tmp_path, ACCOUNT)
    assert saved.file_name == "small.xlsx" and saved.portfolio.codes == ("035720",)
    assert "small.xlsx" in texts(service.model()) and "big.xlsx" not in texts(service.model())
