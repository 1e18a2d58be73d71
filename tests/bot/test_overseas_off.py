"""An account without overseas trading (해외증권 거래신청): the sim refuses its overseas trading calls when told to
(off by default), the client types the refusal by KIS's words, and the plan reply names it in one sentence."""
from __future__ import annotations

from pathlib import Path

import pytest

from kis.errors import KisError, OverseasNotEnabled, error_for, is_overseas_off
from rebalance.i18n import Lang, using
from test_mixed_plan_chat import _service, _texts

MIXED = Path(__file__).resolve().parents[2] / "examples" / "mixed.xlsx"


def test_kis_docs_wording_of_the_overseas_service_application_is_known_and_other_refusals_are_not():
    assert is_overseas_off("해외주식 서비스 신청 후 이용 가능합니다. (해외증권 거래신청)")
    assert is_overseas_off("해외주식 거래 신청이 필요합니다")
    assert not is_overseas_off("해당종목정보가 없습니다")
    assert not is_overseas_off("주문 가격 소수점 초과")
    assert isinstance(error_for("XXXX0000", "해외증권 거래신청 후 이용하세요"), OverseasNotEnabled)
    assert type(error_for("APBK0656", "해당종목정보가 없습니다")) is KisError


def test_the_sim_trades_overseas_by_default(sim, sim_client):
    assert sim.us_exchange.overseas_trading is True
    assert sim_client.us_balance().rate > 0


def test_with_overseas_trading_off_the_sim_refuses_the_us_balance_but_still_quotes(sim, sim_client):
    sim.us_exchange.overseas_trading = False
    with pytest.raises(OverseasNotEnabled):
        sim_client.us_balance()
    assert sim_client.overseas_price("AAPL").price > 0  # quotes need no overseas trading


def test_with_overseas_trading_off_a_us_order_is_refused_and_nothing_rests(sim, sim_client):
    from decimal import Decimal

    from kis.models import OrderSide

    sim.us_exchange.overseas_trading = False
    with pytest.raises(OverseasNotEnabled):
        sim_client.us_order("AAPL", OrderSide.BUY, 1, Decimal("1.00"))
    assert sim.us_exchange.orders == []


def test_the_setting_is_kept_with_the_paper_account_state(sim):
    sim.us_exchange.overseas_trading = False
    state = sim.us_exchange.to_state()
    sim.us_exchange.overseas_trading = True
    sim.us_exchange.load_state(state)
    assert sim.us_exchange.overseas_trading is False


def test_a_mixed_plan_on_an_account_without_overseas_trading_names_the_refusal_in_one_sentence(sim, sim_client):
    sim.us_exchange.overseas_trading = False
    text = _texts(_service(sim_client).plan_file(MIXED.read_bytes(), "mixed.xlsx"))
    assert "no overseas trading enabled" in text and "해외증권 거래신청" in text
    assert "Traceback" not in text


def test_the_refusal_reads_korean_in_a_korean_chat(sim, sim_client):
    sim.us_exchange.overseas_trading = False
    with using(Lang.KO):
        text = _texts(_service(sim_client).plan_file(MIXED.read_bytes(), "mixed.xlsx"))
    assert "해외주식 거래가 신청되어 있지 않아" in text
