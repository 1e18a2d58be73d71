"""open_client: the configured account, and the simulator found or started for `sim`."""
import kis
import kis.sim
from kis import open_client
from kis.models import Env
from kis_fakes import make_config


def test_sim_without_a_base_url_asks_the_simulator_for_its_address(tmp_path, monkeypatch):
    seen = []

    def find_or_start(config):
        seen.append(config)
        return "http://127.0.0.1:40123/"

    monkeypatch.setattr(kis.sim, "find_or_start", find_or_start, raising=False)
    config = make_config(tmp_path, Env.SIM, base_url="")
    client = open_client(config)
    assert client.config.base_url == "http://127.0.0.1:40123"
    assert seen == [make_config(tmp_path, Env.SIM, base_url="")]
    assert client.tr.buy == "VTTC0012U"


def test_a_configured_base_url_is_used_as_is(tmp_path, monkeypatch):
    monkeypatch.setattr(kis.sim, "find_or_start", lambda c: (_ for _ in ()).throw(AssertionError), raising=False)
    client = open_client(make_config(tmp_path, Env.SIM, base_url="http://127.0.0.1:1"))
    assert client.config.base_url == "http://127.0.0.1:1"


def test_open_client_reads_the_configuration_when_none_is_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, value in {"KIS_ENV": "mock", "KIS_APP_KEY": "k", "KIS_APP_SECRET": "s",
                        "KIS_ACCOUNT": "50087375-01", "KISBOT_DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KIS_BASE_URL", raising=False)
    monkeypatch.delenv("KIS_RATE_LIMIT", raising=False)
    client = open_client()
    assert client.config.env is Env.MOCK and client.tr.multi_price is None
    assert client.limiter.rate == 1.0


def test_the_notice_client_takes_the_simulators_websocket_from_open_client_and_never_asks_the_simulator(tmp_path):
    import dataclasses

    from kis.notices import notice_url
    from kis.sim import SimServer
    from kis.sim.clients import sim_config

    with SimServer(0) as sim:
        config = dataclasses.replace(sim_config(sim, tmp_path), ws_url="")
        assert notice_url(config) == ""  # the client alone knows no simulator
        assert notice_url(open_client(config).config) == sim.ws_url
