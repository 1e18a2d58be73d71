"""Names for every stock and ETF/ETN detection: from replies, the cache, KIS's stock info, the file."""
from __future__ import annotations

from kis.models import Balance, Holding, StockInfo
from rebalance import Portfolio, Target
from rebalance.names import NameBook
from tests.rebalance.test_plan import quotes


class InfoClient:
    """Serves stock info like KIS real (or not at all, like mock) and counts the calls."""

    def __init__(self, infos: dict[str, StockInfo], served: bool = True):
        self.infos, self.calls = infos, []
        self.tr = type("Tr", (), {"stock_info": "CTPF1002R" if served else None})()

    def stock_info(self, code):
        self.calls.append(code)
        return self.infos.get(code)


def test_names_come_from_replies_then_stock_info_then_the_file_and_etfs_are_told_apart(tmp_path):
    client = InfoClient({"069500": StockInfo("069500", "KODEX 200", "EF"), "000660": StockInfo("000660", "SK하이닉스", "ST")})
    book = NameBook(tmp_path, client)
    held = Balance((Holding("035720", "카카오", 1, 1, 0, 0, 0, 0, 0, 0.0),), 0, 0, 0, 0, 0)
    model = Portfolio((Target("005930", 0.5, name="삼성(파일)"), Target("123456", 0.5, name="파일 이름")))
    names, tax_free = book.resolve(["005930", "000660", "069500", "035720", "123456"],
                                   quotes({"005930": 1}, names={"005930": "삼성전자"}), held, model)
    assert names == {"005930": "삼성전자", "000660": "SK하이닉스", "069500": "KODEX 200", "035720": "카카오",
                     "123456": "파일 이름"}
    assert tax_free == frozenset({"069500"})


def test_the_cache_in_the_data_dir_spares_the_second_lookup_and_serves_a_client_without_stock_info(tmp_path):
    client = InfoClient({"069500": StockInfo("069500", "KODEX 200", "EF")})
    NameBook(tmp_path, client).resolve(["069500"], {})
    assert client.calls == ["069500"]
    again = NameBook(tmp_path, client)
    assert again.resolve(["069500"], {}) == ({"069500": "KODEX 200"}, frozenset({"069500"}))
    assert client.calls == ["069500"]  # from the cache
    mock = InfoClient({}, served=False)
    assert NameBook(tmp_path, mock).resolve(["069500"], {})[0] == {"069500": "KODEX 200"}
    assert mock.calls == []
