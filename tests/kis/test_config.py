"""Configuration: environment beats .env beats the keyring; missing secrets say what to do."""
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from kis.config import NO_KEYRING_HINT, Source, keyring_set, load_kis_config
from kis.errors import ConfigError
from kis.models import Account, Env


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self):
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        self.store.pop((service, username), None)


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def source(tmp_path: Path, env: dict[str, str], dotenv: str = "", use_keyring: bool = True) -> Source:
    path = tmp_path / ".env"
    if dotenv:
        path.write_text(dotenv)
    return Source(environ=env, dotenv_path=path, use_keyring=use_keyring)


BASE = {"KIS_ENV": "mock", "KIS_ACCOUNT": "50087375-01"}


def test_environment_beats_dotenv_beats_keyring(tmp_path, memory_keyring):
    memory_keyring.set_password("kisbot", "mock_app_key", "from-keyring-key")
    memory_keyring.set_password("kisbot", "mock_app_secret", "from-keyring-secret")
    dotenv = "KIS_APP_KEY=from-dotenv-key\nKIS_APP_SECRET=from-dotenv-secret\n"
    config = load_kis_config(source(tmp_path, {**BASE, "KIS_APP_KEY": "from-env-key"}, dotenv))
    assert config.app_key == "from-env-key"
    assert config.app_secret == "from-dotenv-secret"
    config = load_kis_config(source(tmp_path / "none", {**BASE}))
    assert (config.app_key, config.app_secret) == ("from-keyring-key", "from-keyring-secret")


def test_an_empty_environment_value_falls_through_to_dotenv(tmp_path, no_keyring):
    config = load_kis_config(source(tmp_path, {**BASE, "KIS_APP_KEY": "", "KIS_APP_SECRET": "s"},
                                    "KIS_APP_KEY=dotenv-key\n"))
    assert config.app_key == "dotenv-key"


def test_keyring_names_follow_the_environment(tmp_path, memory_keyring):
    memory_keyring.set_password("kisbot", "real_app_key", "real-key")
    memory_keyring.set_password("kisbot", "real_app_secret", "real-secret")
    config = load_kis_config(source(tmp_path, {**BASE, "KIS_ENV": "real"}))
    assert config.env is Env.REAL and config.app_key == "real-key"
    assert config.base_url == "https://openapi.koreainvestment.com:9443" and config.rate_limit == 18.0


def test_a_missing_secret_names_the_variable_and_the_secrets_command(tmp_path, memory_keyring):
    with pytest.raises(ConfigError) as err:
        load_kis_config(source(tmp_path, {**BASE, "KIS_APP_KEY": "k"}))
    message = str(err.value)
    assert "KIS_APP_SECRET" in message and "KIS_APP_KEY" not in message
    assert "kisbot secrets set" in message and "mock" in message


def test_a_machine_without_a_keyring_does_not_crash(tmp_path, no_keyring):
    with pytest.raises(ConfigError) as err:
        load_kis_config(source(tmp_path, dict(BASE)))
    assert "KIS_APP_KEY and KIS_APP_SECRET" in str(err.value)
    with pytest.raises(ConfigError) as err:
        keyring_set("mock_app_key", "x")
    assert str(err.value) == NO_KEYRING_HINT


def test_no_key_anywhere_means_the_simulator(tmp_path, no_keyring):
    config = load_kis_config(source(tmp_path, {"KISBOT_DATA_DIR": str(tmp_path / "d")}))
    assert config.env is Env.SIM and config.base_url == "" and config.rate_limit == 1.0
    assert config.account == Account("50000000", "01") and config.data_dir == tmp_path / "d"


def test_a_key_without_kis_env_means_mock_never_real(tmp_path, no_keyring):
    config = load_kis_config(source(tmp_path, {"KIS_APP_KEY": "k", "KIS_APP_SECRET": "s",
                                               "KIS_ACCOUNT": "50087375-01"}))
    assert config.env is Env.MOCK
    assert config.base_url == "https://openapivts.koreainvestment.com:29443"


@pytest.mark.parametrize("env,message", [
    ({"KIS_ENV": "prod"}, "KIS_ENV='prod' is not one of sim, mock, real"),
    ({"KIS_RATE_LIMIT": "fast"}, "KIS_RATE_LIMIT='fast'"),
    ({"KIS_RATE_LIMIT": "0"}, "KIS_RATE_LIMIT='0'"),
    ({"KIS_ACCOUNT": "5008737501x"}, "KIS_ACCOUNT"),
    ({"KIS_RATE_LIMIT": "nan"}, "KIS_RATE_LIMIT='nan' is not a number of calls per second from 0.1 to 1000"),
    ({"KIS_RATE_LIMIT": "inf"}, "KIS_RATE_LIMIT='inf'"),
    ({"KIS_RATE_LIMIT": "-inf"}, "KIS_RATE_LIMIT='-inf'"),
    ({"KIS_RATE_LIMIT": "1e-9"}, "KIS_RATE_LIMIT='1e-9'"),
    ({"KIS_RATE_LIMIT": "1e9"}, "KIS_RATE_LIMIT='1e9'"),
    ({"KIS_ACCOUNT": "５００８７３７５-０１"}, "KIS_ACCOUNT: account '５００８７３７５-０１' is not of the form 12345678-01"),
    ({"KIS_ACCOUNT": "50087375-0²"}, "KIS_ACCOUNT"),
])
def test_wrong_values_are_explained(tmp_path, no_keyring, env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_kis_config(source(tmp_path, {**BASE, "KIS_APP_KEY": "k", "KIS_APP_SECRET": "s", **env}))


@pytest.mark.parametrize("rate", ["0.1", "18", "1000"])
def test_rate_limits_within_the_range_are_taken(tmp_path, no_keyring, rate):
    config = load_kis_config(source(tmp_path, {**BASE, "KIS_APP_KEY": "k", "KIS_APP_SECRET": "s",
                                               "KIS_RATE_LIMIT": rate}))
    assert config.rate_limit == float(rate)


def test_overrides_for_url_and_rate(tmp_path, no_keyring):
    config = load_kis_config(source(tmp_path, {**BASE, "KIS_APP_KEY": "k", "KIS_APP_SECRET": "s",
                                               "KIS_BASE_URL": "http://127.0.0.1:9999/", "KIS_RATE_LIMIT": "0.5"}))
    assert config.base_url == "http://127.0.0.1:9999" and config.rate_limit == 0.5


def test_account_without_dash_is_split(tmp_path, no_keyring):
    config = load_kis_config(source(tmp_path, {**BASE, "KIS_ACCOUNT": "5008737501", "KIS_APP_KEY": "k",
                                               "KIS_APP_SECRET": "s"}))
    assert (config.account.cano, config.account.product) == ("50087375", "01")


def test_secrets_stay_out_of_the_repr(tmp_path, no_keyring):
    config = load_kis_config(source(tmp_path, {**BASE, "KIS_APP_KEY": "SECRETKEY123", "KIS_APP_SECRET": "SECRETSEC456"}))
    assert "SECRETKEY123" not in repr(config) and "SECRETSEC456" not in repr(config)
    assert "SECRETKEY123" not in config.app_key_id


def test_keyring_set_stores_under_the_kisbot_service(memory_keyring):
    keyring_set("mock_app_key", "v")
    assert memory_keyring.store == {("kisbot", "mock_app_key"): "v"}


def test_a_dotenv_saved_in_another_encoding_is_one_sentence_that_says_to_save_it_as_utf8(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_bytes("KIS_ENV=mock\n# 모의투자 계좌\n".encode("cp949"))  # Notepad's 'ANSI' on Korean Windows
    with pytest.raises(ConfigError) as caught:
        Source(environ={}, dotenv_path=dotenv, use_keyring=False)
    assert "not UTF-8 text" in str(caught.value) and "save it as UTF-8" in str(caught.value)
