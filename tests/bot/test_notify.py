"""/notify: per-chat settings for fills and reports, kept in the data dir; errors and alerts always ring."""
from __future__ import annotations

import pytest

from bot.notify import NotifyPrefs
from rebalance.i18n import t
from bot.service import Reply

FILLS = Reply("Filled 005930", silent=True, kind="fills")
REPORT = Reply("Daily report", kind="report")
ALERT = Reply("KIS is not answering", silent=True, kind="alert")
ERROR = Reply("Order rejected", silent=True, kind="error")


def test_by_default_fills_are_silent_and_reports_come(tmp_path):
    prefs = NotifyPrefs.in_dir(tmp_path)
    assert prefs.route(1, FILLS).silent and prefs.route(1, REPORT) == REPORT
    assert "fills on, silent; daily report on" in prefs.command(1, [])[0].text


def test_settings_are_per_chat_and_survive_a_restart(tmp_path):
    prefs = NotifyPrefs.in_dir(tmp_path)
    said = prefs.command(1, ["fills", "off", "reports", "off"])[0].text
    assert said.startswith("Notifications set for this chat: fills off; daily report off")
    prefs.command(2, ["FILLS", "on"])
    again = NotifyPrefs.in_dir(tmp_path)
    assert again.route(1, FILLS) is None and again.route(1, REPORT) is None
    assert again.route(2, FILLS).silent is False and again.route(2, REPORT) == REPORT


def test_errors_and_alerts_ring_whatever_the_chat_chose(tmp_path):
    prefs = NotifyPrefs.in_dir(tmp_path)
    prefs.command(1, ["fills", "off", "reports", "off"])
    assert prefs.route(1, ALERT).silent is False and prefs.route(1, ERROR).silent is False


@pytest.mark.parametrize("args", [["loud"], ["fills"], ["fills", "loud"], ["reports", "silent"],
                                  ["fills", "on", "fills", "off"], ["errors", "off"]])
def test_unknown_words_get_the_usage_line_and_change_nothing(tmp_path, args):
    prefs = NotifyPrefs.in_dir(tmp_path)
    assert prefs.command(1, args)[0].text == t("misc_replies.notify_usage")
    assert not (tmp_path / "notify.json").exists()


def test_an_unreadable_settings_file_means_defaults(tmp_path):
    (tmp_path / "notify.json").write_text("{not json")
    assert NotifyPrefs.in_dir(tmp_path).route(1, FILLS).silent


def test_the_singular_words_a_user_types_after_reading_the_reply_work_too(tmp_path):
    prefs = NotifyPrefs.in_dir(tmp_path)
    assert "daily report on" in prefs.command(1, [])[0].text
    assert "fills off; daily report off" in prefs.command(1, ["report", "off", "fill", "off"])[0].text
    assert prefs.get(1).reports == "off" and prefs.get(1).fills == "off"
