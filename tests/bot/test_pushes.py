"""The startup message: one message naming the environment, the masked account and a resumed run."""
from __future__ import annotations

import os
from types import SimpleNamespace

from bot.format import bold
from bot.pushes import Pushes
from bot.service import Reply
from bot_fakes import a_run
from kis.models import Account, Env


def pushes_over(resumed: list[Reply], status=None, owner=None) -> Pushes:
    client = SimpleNamespace(config=SimpleNamespace(env=Env.MOCK, account=Account.parse("50087375-01")))
    owner = owner or (os.getpid() if status is not None else None)
    service = SimpleNamespace(client=client, resume=lambda: resumed, active_run=lambda: status,
                              executor=SimpleNamespace(run_owner=lambda: owner))
    return Pushes(service, reports=None, prefs=None, scheduler=None, alert=None)


def test_startup_without_a_run():
    assert [r.text for r in pushes_over([]).startup()] == ["kisbot is up: mock, account 50****75-01, no run active."]


def test_startup_with_a_resumed_run_is_one_message_with_its_status():
    status = a_run("r-7")
    replies = pushes_over([Reply(bold("Resumed a run left active by a restart.") + "\n40% done")], status).startup()
    assert len(replies) == 1
    assert replies[0].text == ("kisbot is up: mock, account 50****75-01, run r-7 resumed.\n"
                               "<b>Resumed a run left active by a restart.</b>\n40% done")


def test_a_bot_that_leaves_another_processs_run_alone_never_announces_it_resumed():
    status = a_run("r-7")
    elsewhere = Reply("Run r-7 is being executed by another kisbot process (pid 4242), so this bot leaves it alone")
    (reply,) = pushes_over([elsewhere], status, owner=4242).startup()
    assert "resumed" not in reply.text, reply.text
    assert reply.text.startswith("kisbot is up: mock, account 50****75-01, run r-7 is executed by another kisbot "
                                 "process (pid 4242), not by this one.")
