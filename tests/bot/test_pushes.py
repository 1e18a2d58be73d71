"""The startup message: one message naming the environment, the masked account and a resumed run."""
from __future__ import annotations

from types import SimpleNamespace

from bot.format import bold
from bot.pushes import Pushes
from bot.service import Reply
from bot_fakes import a_run
from kis.models import Account, Env


def pushes_over(resumed: list[Reply], status=None) -> Pushes:
    client = SimpleNamespace(config=SimpleNamespace(env=Env.MOCK, account=Account.parse("50087375-01")))
    service = SimpleNamespace(client=client, resume=lambda: resumed, active_run=lambda: status)
    return Pushes(service, reports=None, prefs=None, scheduler=None, alert=None)


def test_startup_without_a_run():
    assert [r.text for r in pushes_over([]).startup()] == ["kisbot is up: mock, account 50****75-01, no run active."]


def test_startup_with_a_resumed_run_is_one_message_with_its_status():
    status = a_run("r-7")
    replies = pushes_over([Reply(bold("Resumed a run left active by a restart.") + "\n40% done")], status).startup()
    assert len(replies) == 1
    assert replies[0].text == ("kisbot is up: mock, account 50****75-01, run r-7 resumed.\n"
                               "<b>Resumed a run left active by a restart.</b>\n40% done")
