"""A name for every stock, and whether it is an ETF/ETN, on real and mock alike.

Names come from what the broker already sent (multi-stock quote, balance), then a cache in the data
dir, then KIS's stock info (CTPF1002R, where the environment serves it), then the model file's name
column. The stock info also tells ETFs and ETNs apart (no transaction tax on their sells); what it
says is cached, since neither a name nor a product group changes from one plan to the next.
"""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, Iterable, Mapping

from kis.errors import KisError, KisTransportError
from kis.files import write_private
from kis.models import ETP_GROUPS, Balance, Quote
from rebalance.model import Portfolio

log = logging.getLogger(__name__)

CACHE_FILE = "names.json"
# Stock-info calls one plan may make for codes the cache does not know (paced by the client's limiter).
MAX_LOOKUPS = 60


class NameBook:
    """Names and product groups by code: learnt from replies, cached on disk, asked of KIS when missing."""

    def __init__(self, data_dir: str | Path, client: Any = None):
        self.path = Path(data_dir) / CACHE_FILE
        self.client = client
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, str]] = self._read()

    def known(self, codes: Iterable[str]) -> dict[str, str]:
        """Names the cache holds for `codes` (no KIS call)."""
        with self._lock:
            return {c: self._entries[c]["name"] for c in codes if self._entries.get(c, {}).get("name")}

    def resolve(self, codes: Iterable[str], quotes: Mapping[str, Quote], balance: Balance | None = None,
                portfolio: Portfolio | None = None) -> tuple[dict[str, str], frozenset[str]]:
        """Code -> name for every code a source knows, and the codes that are ETFs or ETNs."""
        codes = list(codes)
        learnt: dict[str, str] = {}
        for code in codes:
            quote = quotes.get(code)
            if quote is not None and quote.name:
                learnt[code] = quote.name
        for holding in balance.holdings if balance is not None else ():
            if holding.name and holding.code not in learnt:
                learnt[holding.code] = holding.name
        self._learn(learnt)
        self._ask(codes)
        with self._lock:
            entries = {c: dict(self._entries.get(c, {})) for c in codes}
        names = {c: e["name"] for c, e in entries.items() if e.get("name")}
        for target in portfolio.targets if portfolio is not None else ():
            if target.name and target.code not in names:
                names[target.code] = target.name
        tax_free = frozenset(c for c, e in entries.items() if e.get("group") in ETP_GROUPS)
        return names, tax_free

    def fill(self, quotes: Mapping[str, Quote]) -> dict[str, str]:
        """Names for the codes of these quotes (for /price), asking KIS for the ones nobody named yet."""
        names, _ = self.resolve(list(quotes), quotes)
        return names

    def lookups(self, codes: Iterable[str]) -> int:
        """How many KIS stock-info calls naming `codes` would make now (for an estimate of a plan's time)."""
        if self.client is None or not getattr(getattr(self.client, "tr", None), "stock_info", None):
            return 0
        with self._lock:
            return min(MAX_LOOKUPS, sum(1 for c in dict.fromkeys(codes) if "group" not in self._entries.get(c, {})))

    def _ask(self, codes: list[str]) -> None:
        """Stock info for codes whose product group the cache does not know yet, where KIS serves it."""
        if self.client is None or not getattr(getattr(self.client, "tr", None), "stock_info", None):
            return
        with self._lock:
            unknown = [c for c in codes if "group" not in self._entries.get(c, {})]
        found: dict[str, dict[str, str]] = {}
        for code in unknown[:MAX_LOOKUPS]:
            try:
                info = self.client.stock_info(code)
            except (KisError, KisTransportError) as exc:  # names are a nicety: the plan stands without
                log.info("stock info for %s failed: %s", code, exc)
                break
            if info is not None:
                found[code] = {"name": info.name, "group": info.group}
        if found:
            with self._lock:
                for code, entry in found.items():
                    self._entries[code] = {**self._entries.get(code, {}), **entry}
                self._write()

    def _learn(self, names: Mapping[str, str]) -> None:
        with self._lock:
            changed = {c: n for c, n in names.items() if self._entries.get(c, {}).get("name") != n}
            for code, name in changed.items():
                self._entries[code] = {**self._entries.get(code, {}), "name": name}
            if changed:
                self._write()

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {str(c): {k: str(v) for k, v in e.items()} for c, e in data.items() if isinstance(e, dict)}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, AttributeError):
            log.warning("the name cache %s cannot be read; starting a new one", self.path)
            return {}

    def _write(self) -> None:
        try:
            write_private(self.path, json.dumps(self._entries, ensure_ascii=False, indent=0, sort_keys=True))
        except OSError:
            log.warning("cannot write the name cache %s", self.path, exc_info=True)
