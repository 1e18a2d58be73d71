"""`kisbot report` and `kisbot health` on the simulator: the figures in a terminal, the value row kept."""
from __future__ import annotations

import argparse

from bot.health import health
from bot.reports import report
from rebalance.history import ValueHistory


def test_kisbot_report_prints_the_report_writes_the_row_and_says_the_chart_needs_two_sessions(sim_client, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MARKET_CALENDAR", "always")
    chart = tmp_path / "value.png"
    assert report(argparse.Namespace(chart=str(chart)), client_factory=lambda: sim_client) == 0
    out = capsys.readouterr().out
    assert "sim account 50000000-01" in out and "Daily report" in out and "total value" in out
    assert "<b>" not in out and not chart.exists() and "needs two sessions" in out
    assert len(ValueHistory.in_dir(sim_client.config.data_dir).recent("50000000-01")) == 1


def test_kisbot_report_when_kis_does_not_answer_is_one_line(sim, sim_client, capsys, monkeypatch):
    monkeypatch.setenv("MARKET_CALENDAR", "always")
    sim.faults.error_rate = 1.0
    assert report(argparse.Namespace(chart=None), client_factory=lambda: sim_client) == 1
    err = capsys.readouterr().err
    assert err == "kisbot: KIS did not answer; check the connection and try again.\n"


def test_kisbot_health_prints_the_figures(sim_client, capsys):
    sim_client.price("005930")
    assert health(argparse.Namespace(), client_factory=lambda: sim_client) == 0
    out = capsys.readouterr().out
    assert "environment: sim" in out and "account: 50****00-01" in out and "KIS calls today: 1" in out
