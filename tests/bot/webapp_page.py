"""The Mini App editor (bot/static/model.html) in Debian's headless Chromium, driven by Playwright, with a stub
`Telegram.WebApp` that keeps what the page sends. No browser is downloaded: the system one, or a skip.

`python tests/bot/webapp_page.py` writes the README's screenshots (docs/img/webapp-en.png, webapp-ko.png).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "bot" / "static" / "model.html"
CHROMIUM = os.environ.get("KISBOT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}  # CSS pixels of a common phone

# Before the page's own scripts: a Telegram.WebApp that records sendData (and the MainButton's handler).
STUB = """
window.__sent = [];
window.__main = {shown: false, text: "", enabled: true, click: null};
window.Telegram = {WebApp: {
  initData: %(init_data)s, initDataUnsafe: {user: {language_code: %(lang)s}}, platform: "stub",
  ready: function () {}, expand: function () {},
  sendData: function (data) { window.__sent.push(data); },
  MainButton: %(main)s
}};
"""
MAIN_BUTTON = """{
  setText: function (t) { window.__main.text = t; return this; }, show: function () { window.__main.shown = true; return this; },
  enable: function () { window.__main.enabled = true; return this; }, disable: function () { window.__main.enabled = false; return this; },
  onClick: function (f) { window.__main.click = f; return this; }
}"""


def why_no_browser() -> str | None:
    """One line saying why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Mini App browser tests need the playwright package (pip install -e '.[dev]')"
    if not Path(CHROMIUM).exists():
        return (f"the Mini App browser tests need Debian's chromium at {CHROMIUM} "
                "(apt-get install chromium; .ci/run installs it)")
    return None


def launch(playwright: Any) -> Any:
    """Debian's Chromium, headless (the sandbox off: CI runs as root)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])


def url_for(fragment: str) -> str:
    return PAGE.as_uri() + "#m=" + fragment


def open_editor(browser: Any, url: str, *, lang: str = "en", main_button: bool = False,
                scale: float = 1) -> Any:
    """A phone-sized page at `url` with the stub; every request off the machine is refused (offline)."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=scale, locale=lang)
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    context.add_init_script(STUB % {"init_data": json.dumps("query_id=stub" if main_button else ""),
                                    "lang": json.dumps(lang), "main": MAIN_BUTTON if main_button else "undefined"})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def stepper(page: Any, code: str, what: str, sign: str) -> Any:
    """The + or − button of a row's target or band stepper (`what`: "target", "band")."""
    return page.locator(f'section[data-code="{code}"] .{what} button', has_text="+" if sign == "+" else "−")


def sent(page: Any) -> list[str]:
    """What the page handed to Telegram.WebApp.sendData, oldest first."""
    return page.evaluate("window.__sent")


def screenshots(out: Path = ROOT / "docs" / "img") -> list[Path]:
    """The editor of a 12-stock model in English and Korean, as the README shows it."""
    from playwright.sync_api import sync_playwright

    from bot.webapp import encode

    names = {"069500": "KODEX 200", "360750": "TIGER 미국S&P500", "133690": "TIGER 미국나스닥100",
             "005930": "삼성전자", "000660": "SK하이닉스", "148070": "KOSEF 국고채10년", "132030": "KODEX 골드선물(H)",
             "035420": "NAVER", "005380": "현대차", "105560": "KB금융", "0013V0": "신규 ETF", "051910": "LG화학"}
    targets = [20, 15, 12.5, 10, 8, 10, 5, 4, 4, 3, 3, 2.5]
    bands = [3, 2, 2, None, None, 2.5, None, None, None, None, None, None]
    now = [21.4, 13.2, 13.9, 9.1, 8.8, 10.2, 4.7, 3.1, 4.4, 3.0, 0.0, 2.6]
    rows = [{"code": c, "target": tg, **({} if b is None else {"band": b})}
            for c, tg, b in zip(names, targets, bands)]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        browser = launch(p)
        for lang, label in (("en", "defensive"), ("ko", "방어형")):
            data = {"v": 1, "base": 7, "rows": rows, "cash": 2.0, "names": names, "now": dict(zip(names, now)),
                    "dband": 2.0, "model": label, "lang": lang}
            page = open_editor(browser, url_for(encode(data)), lang=lang, scale=2)
            stepper(page, "005930", "target", "+").click()
            stepper(page, "005930", "target", "+").click()
            stepper(page, "000660", "band", "+").click()
            path = out / f"webapp-{lang}.png"
            page.screenshot(path=str(path))
            written.append(path)
            page.context.close()
        browser.close()
    return written


if __name__ == "__main__":
    for path in screenshots():
        print(path)
