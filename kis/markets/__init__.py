"""Markets as one seam: `KRX`, `NASD`, `NYSE`, `AMEX`, and `market_of(symbol)` to find a symbol's."""
from __future__ import annotations

from kis.codes import BadSymbol, split_symbol
from kis.markets.base import KRW, USD, Currency, Endpoint, Market, to_krw
from kis.markets.krx import KRX
from kis.markets.us import AMEX, NASD, NYSE, US_MARKETS

MARKETS = (KRX, *US_MARKETS)
_BY_CODE = {m.code: m for m in MARKETS}
_BY_QUOTE = {m.quote_code: m for m in US_MARKETS}
_BY_PREFIX = {p: m for m in MARKETS for p in m.prefixes}
PREFIXES = tuple(_BY_PREFIX)


def market_named(code: str) -> Market:
    """The market of an order code (KRX, NASD, NYSE, AMEX), a quote code (NAS, NYS, AMS) or a prefix a user
    writes (NASDAQ, ARCA); KeyError naming the ones there are."""
    text = str(code or "").strip().upper()
    found = _BY_CODE.get(text) or _BY_QUOTE.get(text) or _BY_PREFIX.get(text)
    if found is None:
        raise KeyError(f"'{code}' is not an exchange: use {', '.join(m.code for m in MARKETS)}")
    return found


def market_of(symbol: object) -> Market | None:
    """The market a symbol names: KRX for a KRX code, the prefixed exchange for NYSE:KO, None for a bare US
    ticker (its exchange is KIS's to say: search-info); BadSymbol when it is no symbol or the prefix no exchange."""
    prefix, code = split_symbol(symbol)
    if prefix:
        market = _BY_PREFIX.get(prefix) or _BY_QUOTE.get(prefix)
        if market is None or not market.is_us:
            raise BadSymbol(symbol, f"'{prefix}' in '{str(symbol).strip()}' is not a US exchange: "
                                    f"write NASD:, NYSE: or AMEX: before the ticker")
        return market
    return KRX if KRX.is_symbol(code) else None


def is_us_symbol(symbol: object) -> bool:
    """True when `symbol` is a US ticker, prefixed or not (no KIS call)."""
    try:
        return market_of(symbol) is not KRX
    except BadSymbol:
        return False


__all__ = ["AMEX", "KRW", "KRX", "MARKETS", "NASD", "NYSE", "PREFIXES", "US_MARKETS", "USD", "Currency", "Endpoint",
           "Market", "is_us_symbol", "market_named", "market_of", "to_krw"]
