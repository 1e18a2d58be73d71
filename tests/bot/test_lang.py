"""The chat's language: its /lang (kept in the data dir) wins over its Telegram language_code, which wins
over KISBOT_LANG, else English; the command menus exist in both languages; /help, buttons and plans speak it."""
from __future__ import annotations

from bot.lang import ChatLangs, terminal_lang
from bot_fakes import make_service
from rebalance.i18n import Lang
from tg_harness import OWNER, BotRunner


def sent(api, chat=OWNER):
    return api.calls_to("sendMessage", "sendPhoto", "editMessageText", chat_id=chat)


def test_the_chats_choice_wins_then_telegrams_language_then_the_setting(tmp_path):
    langs = ChatLangs.in_dir(tmp_path)
    assert langs.lang_for(1, None, None) is Lang.EN
    assert langs.lang_for(1, None, "ko") is Lang.KO
    assert langs.lang_for(1, "en-US", "ko") is Lang.EN
    assert langs.lang_for(1, "ko", None) is Lang.KO
    langs.set(1, Lang.EN)
    assert ChatLangs.in_dir(tmp_path).lang_for(1, "ko", "ko") is Lang.EN  # kept across a restart
    assert ChatLangs.in_dir(tmp_path).lang_for(2, "ko", None) is Lang.KO  # per chat


def test_an_unreadable_language_file_means_no_chat_chose(tmp_path):
    (tmp_path / "lang.json").write_text("{not json")
    assert ChatLangs.in_dir(tmp_path).lang_for(1, "ko", None) is Lang.KO


def test_the_terminal_follows_the_setting_then_the_locale():
    assert terminal_lang(None, {"LANG": "ko_KR.UTF-8"}) is Lang.KO
    assert terminal_lang("en", {"LANG": "ko_KR.UTF-8"}) is Lang.EN
    assert terminal_lang(None, {"LC_ALL": "C", "LANG": "ko_KR.UTF-8"}) is Lang.KO
    assert terminal_lang(None, {}) is Lang.EN


def test_a_korean_telegram_user_reads_help_and_a_plan_with_korean_buttons(api, tmp_path):
    service, *_ = make_service()
    api.language_codes[OWNER] = "ko"
    with BotRunner(api, service, langs=ChatLangs.in_dir(tmp_path)):
        api.send_text(OWNER, "/help")
        help_text = api.wait_for(lambda a: [c.text for c in sent(a) if "kisbot" in c.text])[0]
        api.send_document(OWNER, "model.xlsx", b"005930 000660")
        photo = api.wait_for(lambda a: a.calls_to("sendPhoto"))[0]
        api.send_text(OWNER, "/nonsense")
        unknown = api.wait_for(lambda a: [c.text for c in sent(a) if "/nonsense" in c.text])[0]
    assert "kisbot은 이 채팅에서 KIS 주식 계좌를 운용합니다" in help_text and "/lang" in help_text
    assert [b["text"] for b in photo.buttons][1] == "취소"
    assert [b["text"] for b in photo.buttons][0].startswith("확정 ")
    assert "모르는 명령" in unknown


def test_lang_sets_the_chats_language_over_telegrams_and_answers_in_it(api, tmp_path):
    service, *_ = make_service()
    api.language_codes[OWNER] = "ko"
    with BotRunner(api, service, langs=ChatLangs.in_dir(tmp_path)):
        api.send_text(OWNER, "/lang en")
        assert api.wait_for(lambda a: [c.text for c in sent(a)])[0] == "This chat now speaks English."
        api.send_text(OWNER, "/help")
        help_text = api.wait_for(lambda a: [c.text for c in sent(a) if "kisbot" in c.text])[0]
        api.send_text(OWNER, "/lang fr")
        refusal = api.wait_for(lambda a: [c.text for c in sent(a) if "'fr'" in c.text])[0]
        api.send_text(OWNER, "/lang ko")
        api.wait_for(lambda a: [c for c in sent(a) if c.text == "이 채팅은 이제 한국어로 답합니다."])
    assert help_text.startswith("<b>kisbot runs your KIS stock account")
    assert refusal.startswith("kisbot speaks ko")
    assert ChatLangs.in_dir(tmp_path).get(OWNER) is Lang.KO


def test_the_command_menu_is_set_for_the_default_and_for_korean(api, tmp_path):
    service, *_ = make_service()
    with BotRunner(api, service, langs=ChatLangs.in_dir(tmp_path), lang_setting="en"):
        menus = api.wait_for(lambda a: len(a.calls_to("setMyCommands")) >= 3 and a.calls_to("setMyCommands"))
    by_lang = {m.params.get("language_code"): m.params["commands"] for m in menus}
    assert {None, "ko", "en"} <= set(by_lang)
    assert [c["command"] for c in by_lang["ko"]] == [c["command"] for c in by_lang[None]]
    ko = {c["command"]: c["description"] for c in by_lang["ko"]}
    assert ko["balance"] == "보유 종목, 예수금, 총평가" and "lang" in ko
    assert {c["command"]: c["description"] for c in by_lang[None]}["balance"] == "holdings, cash and total"
