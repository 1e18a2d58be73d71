"""The Mini App editor (bot/static/model.html) in a real headless browser: Debian's Chromium driven by Playwright,
with a stub Telegram.WebApp that keeps what Save hands to sendData. Skips, with one line, where either is missing."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from webapp_page import why_no_browser

WHY = why_no_browser()
if WHY:
    pytest.skip(WHY, allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

from bot import webapp  # noqa: E402
from bot.model_edits import ModelContext  # noqa: E402
from rebalance.i18n import Lang  # noqa: E402
from rebalance.model_store import VersionedModels  # noqa: E402
from webapp_page import launch, open_editor, sent, stepper, url_for  # noqa: E402

AT = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
OWNER = 4242


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = launch(p)
        yield chromium
        chromium.close()


def a_model(tmp_path, rows, cash=0.0) -> VersionedModels:
    """A saved model of `rows` (code, weight, band as fractions; band None = the default)."""
    versions = VersionedModels(tmp_path, "50087375-01")
    versions.apply({"op": "load", "source": "m.xlsx", "targets": [
        {"code": c, "weight": w, "band": b, "name": "", "row": 0} for c, w, b in rows]}, who="file", at=AT)
    if cash:
        versions.apply({"op": "cash", "cash": cash}, who="chat 1", at=AT)
    return versions


def the_url(versions: VersionedModels, lang: Lang = Lang.EN, names=None, now=None) -> str:
    data = webapp.editor_data(versions.current(), names=names or {}, now=now, default_band=2.0, label="m.xlsx",
                              lang=lang)
    return url_for(webapp.encode(data))


def context() -> ModelContext:
    return ModelContext(who=f"chat {OWNER}", now=lambda: AT)


def test_a_30_row_model_is_changed_by_its_steppers_and_save_sends_exactly_the_edited_model(browser, tmp_path):
    codes = [f"{100010 + 10 * i:06d}" for i in range(30)]
    rows = [(c, 0.03, 0.02 if i % 2 == 0 else None) for i, c in enumerate(codes)]
    versions = a_model(tmp_path, rows, cash=0.02)
    page = open_editor(browser, the_url(versions, names={codes[0]: "삼성전자"}, now={codes[0]: 0.031}))
    assert page.locator("section.row[data-code]").count() == 30
    assert page.locator(f'section[data-code="{codes[0]}"] .name').inner_text() == "삼성전자"
    assert page.locator(f'section[data-code="{codes[0]}"] .now').inner_text() == "now 3.1%"
    assert "Sum 90.0% · cash 2.0% · unassigned 8.0%" in page.locator("#sum").inner_text()
    stepper(page, codes[3], "target", "+").click()
    stepper(page, codes[3], "target", "+").click()  # 3.0 → 4.0
    stepper(page, codes[17], "target", "−").click()  # 3.0 → 2.5
    stepper(page, codes[20], "band", "+").click()  # ±2.0 → ±2.5
    assert "Sum 90.5% · cash 2.0% · unassigned 7.5%" in page.locator("#sum").inner_text()
    assert page.locator("#save").inner_text() == "Save · 3 changed"
    page.locator("#save").click()
    expected = {"v": 1, "base": 2, "rows": [
        {"code": c, "target": {3: 4.0, 17: 2.5}.get(i, 3.0),
         **({"band": 2.5 if i == 20 else 2.0} if i % 2 == 0 else {})} for i, c in enumerate(codes)], "cash": 2.0}
    assert sent(page) == [webapp.compact(expected)]
    assert page.errors == []
    text, changed = webapp.save(versions, sent(page)[0], context(), chat=OWNER, allowed={OWNER})
    assert changed and "3.0% → 4.0%" in text and "3.0% → 2.5%" in text and "±2.0 → ±2.5%p" in text
    state = versions.current().state
    assert [t.weight for t in state.targets] == [{3: 0.04, 17: 0.025}.get(i, 0.03) for i in range(30)]
    assert state.targets[20].band == 0.025 and state.targets[1].band is None and state.cash == 0.02


def test_a_100_row_model_round_trips_within_4096_bytes(browser, tmp_path):
    codes = [f"{200000 + 7 * i:06d}" for i in range(100)]
    weights = [round(0.005 + 0.001 * (i % 10), 4) for i in range(100)]  # 0.5 % to 1.4 %: 95 % in all
    bands = [(0.025, 0.03, None)[i % 3] for i in range(100)]  # own bands of one decimal, whole ones, the default
    versions = a_model(tmp_path, list(zip(codes, weights, bands)), cash=0.03)
    url = the_url(versions, names={c: f"종목 이름 {i}" for i, c in enumerate(codes)})
    page = open_editor(browser, url)
    stepper(page, codes[99], "target", "+").click()  # 1.4 → 1.5
    page.locator("#save").click()
    [data] = sent(page)
    assert len(data.encode()) <= webapp.MAX_DATA
    before = versions.current().state
    text, changed = webapp.save(versions, data, context(), chat=OWNER, allowed={OWNER})
    after = versions.current().state
    assert changed and "1.4% → 1.5%" in text
    assert after.targets[:99] == before.targets[:99]  # every other row exactly as it was (fractions kept)
    assert after.targets[99].weight == 0.015 and after.targets[99].band == before.targets[99].band
    assert after.cash == 0.03 and page.errors == []


def test_over_100_percent_is_warned_and_save_stays_off_and_korean_follows_the_data(browser, tmp_path):
    versions = a_model(tmp_path, [("005930", 0.6, None), ("000660", 0.395, None)])
    page = open_editor(browser, the_url(versions, lang=Lang.KO), lang="en")  # the data's lang wins
    assert page.locator("h1").inner_text() == "모델 편집"
    stepper(page, "000660", "target", "+").click()  # 39.5 → 40.0: exactly 100 %
    assert page.locator("#save").is_enabled()
    stepper(page, "000660", "target", "+").click()  # 40.5: over
    assert "합계 100.5%" in page.locator("#sum").inner_text()
    assert page.locator("#warn").inner_text() == "100 %를 넘습니다: 저장하기 전에 목표를 낮추세요."
    assert not page.locator("#save").is_enabled()
    page.locator('section[data-code="005930"] .target input').fill("59,5")  # typed, with a decimal comma
    page.locator('section[data-code="005930"] .target input').press("Enter")
    assert "합계 100.0%" in page.locator("#sum").inner_text() and page.locator("#save").is_enabled()
    page.locator("#save").click()
    assert json.loads(sent(page)[0])["rows"] == [{"code": "005930", "target": 59.5}, {"code": "000660", "target": 40.5}]


def test_inside_telegram_the_main_button_saves(browser, tmp_path):
    versions = a_model(tmp_path, [("005930", 0.5, 0.03)])
    page = open_editor(browser, the_url(versions), main_button=True)
    assert page.evaluate("window.__main.shown") and not page.locator("#save").is_visible()
    assert page.evaluate("window.__main.enabled") is False  # nothing changed yet
    stepper(page, "005930", "band", "−").click()
    assert page.evaluate("window.__main.text") == "Save · 1 changed" and page.evaluate("window.__main.enabled")
    page.evaluate("window.__main.click()")
    assert sent(page) == ['{"v":1,"base":1,"rows":[{"code":"005930","target":50,"band":2.5}],"cash":0}']


def test_a_link_without_a_model_says_so_and_sends_nothing(browser):
    page = open_editor(browser, url_for("bm90IGpzb24"), lang="ko")  # base64url of "not json"; Telegram says ko
    assert "이 링크에는 모델이 없습니다" in page.locator("#msg").inner_text()
    assert not page.locator("#save").is_enabled() and sent(page) == [] and page.errors == []
