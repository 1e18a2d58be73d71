"""KIS stock info (search-stock-info, CTPF1002R): names and product groups; not served on mock."""
from __future__ import annotations

import responses

from kis import endpoints as ep
from kis.models import Env
from kis_fakes import REAL_URL, ok


def test_stock_info_asks_ctpf1002r_for_a_product_of_type_300_and_tells_an_etf(fake, client):
    fake.rsps.add(responses.GET, REAL_URL + ep.STOCK_INFO,
                  json=ok(output={"pdno": "069500", "prdt_abrv_name": "KODEX 200", "scty_grp_id_cd": "EF"}))
    info = client.stock_info("069500")
    call = fake.paths(ep.STOCK_INFO)[0]
    assert call.headers["tr_id"] == "CTPF1002R"
    assert call.params == {"PRDT_TYPE_CD": "300", "PDNO": "069500"}
    assert (info.name, info.group, info.exchange_traded_product) == ("KODEX 200", "EF", True)


def test_the_sim_serves_stock_info_with_names_and_groups(sim, sim_client):
    from kis.sim.market import StockSpec

    sim.market.add(StockSpec("069500", "KODEX 200", 40_000, kind="etf"))
    assert sim_client.stock_info("069500").exchange_traded_product
    samsung = sim_client.stock_info("005930")
    assert samsung.name == "삼성전자" and not samsung.exchange_traded_product
    assert sim_client.stock_info("999999") is None


def test_mock_does_not_serve_stock_info_so_none_is_asked():
    assert ep.TR_IDS[Env.MOCK].stock_info is None and ep.TR_IDS[Env.REAL].stock_info == "CTPF1002R"
