"""The listing lag `kisbot doctor` measured: kept per environment and server, and it lengthens the settle horizon."""
from datetime import datetime
from pathlib import Path

from bot.service import open_service
from kis.krx import KST
from kis.config import KisConfig, Source
from kis.listing_lag import ListingLag, lag_path, load_listing_lag, save_listing_lag, settle_horizon
from kis.models import Account, Env

MEASURED_AT = datetime(2026, 11, 24, 10, 0, tzinfo=KST)


def config(tmp_path, env=Env.MOCK, base_url="https://openapivts.koreainvestment.com:29443") -> KisConfig:
    return KisConfig(env=env, app_key="k", app_secret="s", account=Account.parse("50087375-01"),
                     base_url=base_url, rate_limit=1.0, data_dir=Path(tmp_path))


def test_a_saved_lag_is_read_back_for_the_same_environment_and_server_only(tmp_path):
    save_listing_lag(config(tmp_path), ListingLag(7.5, MEASURED_AT))
    assert load_listing_lag(config(tmp_path)) == ListingLag(7.5, MEASURED_AT, listed=True)
    assert load_listing_lag(config(tmp_path, env=Env.REAL, base_url="https://openapi.koreainvestment.com:9443")) is None
    assert lag_path(config(tmp_path)).stat().st_mode & 0o777 == 0o600


def test_a_longer_measured_lag_raises_the_settle_horizon_and_a_shorter_one_does_not(tmp_path):
    assert settle_horizon(120.0, config(tmp_path)) == 120.0
    save_listing_lag(config(tmp_path), ListingLag(300.0, MEASURED_AT, listed=False))
    assert settle_horizon(120.0, config(tmp_path)) == 300.0
    save_listing_lag(config(tmp_path), ListingLag(4.0, MEASURED_AT))
    assert settle_horizon(120.0, config(tmp_path)) == 120.0


def test_an_unreadable_lag_file_leaves_the_setting_alone(tmp_path, caplog):
    path = lag_path(config(tmp_path))
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert settle_horizon(120.0, config(tmp_path)) == 120.0
    assert "kisbot doctor --orders" in caplog.text


def test_the_executor_waits_out_a_measured_lag_longer_than_its_setting(sim_client, tmp_path):
    save_listing_lag(sim_client.config, ListingLag(45.0, MEASURED_AT))
    source = Source(environ={"MARKET_CALENDAR": "always"}, dotenv_path=tmp_path / "no.env", use_keyring=False)
    service = open_service(sim_client, source=source, on_event=lambda event: None, settle_seconds=10.0)
    assert service.executor.settings.settle_seconds == 45.0
    assert service.twap_settings.settle_seconds == 45.0
