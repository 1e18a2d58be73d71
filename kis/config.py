"""Configuration: the environment first, then `.env` in the working directory, then the OS keyring.

Secrets (app key, app secret, bot token) may live in the keyring under service `kisbot`; they are
kept out of reprs so that they never reach a log line or a traceback.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from dotenv import dotenv_values

from kis.accounts import Account as KisAccount, AccountKind, Credentials, find_account, kind_of, parse_label
from kis.endpoints import BASE_URLS, DEFAULT_RATE_LIMIT
from kis.errors import ConfigError
from kis.models import Account, Env
from kis.models import Account as AccountNumber

log = logging.getLogger(__name__)

KEYRING_SERVICE = "kisbot"
MIN_RATE_LIMIT, MAX_RATE_LIMIT = 0.1, 1000.0  # calls per second KIS_RATE_LIMIT may set
SIM_APP_KEY = "PSsimDEMOappKEY0000000000000000000000"
SIM_APP_SECRET = "simDEMOappSECRET" + "0" * 164
SIM_ACCOUNT = "50000000-01"
SIM_HTS_ID = "kisbotsim"  # the paper exchange's HTS ID: its notices are keyed by it, as KIS's are


def sim_credentials(label: str) -> tuple[str, str]:
    """The simulator's app key and secret of account `label` when none is set: `main` the well-known pair, any
    other its own pair (KIS issues a key pair per account, and one simulator routes each request by its key)."""
    if label == "main":
        return SIM_APP_KEY, SIM_APP_SECRET
    return (f"PSsim{label.upper()}appKEY".ljust(36, "0"), f"sim{label.upper()}appSECRET".ljust(180, "0"))


NO_KEYRING_HINT = (
    "no OS keyring is available on this machine; set the variable in the environment or in a "
    ".env file in the working directory instead (see .env.example)"
)


class Source:
    """Looks a setting up: environment, then `.env`, then (secrets only) the keyring."""

    def __init__(self, environ: Mapping[str, str] | None = None, dotenv_path: Path | None = None,
                 use_keyring: bool = True):
        self.environ = os.environ if environ is None else environ
        path = Path.cwd() / ".env" if dotenv_path is None else dotenv_path
        try:
            values = dotenv_values(path) if path.is_file() else {}
        except (UnicodeDecodeError, OSError) as exc:
            why = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or str(exc))
            raise ConfigError(f"the settings file {path} cannot be read ({why}): save it as UTF-8 text "
                              "(e.g. 'Save as' with UTF-8 encoding), or remove it") from None
        self.dotenv = {k: v for k, v in values.items() if v is not None}
        self.use_keyring = use_keyring

    def get(self, name: str, default: str = "") -> str:
        value = self.environ.get(name)
        if value is None or value == "":
            value = self.dotenv.get(name, "")
        return value.strip() if value else default

    def origin(self, name: str, keyring_name: str = "") -> str:
        """Where `name` is set: "environment", ".env", "keyring" or "" (nowhere: the default applies)."""
        if self.environ.get(name, "").strip():
            return "environment"
        if (self.dotenv.get(name) or "").strip():
            return ".env"
        if keyring_name and self.use_keyring and keyring_get(keyring_name):
            return "keyring"
        return ""

    def secret(self, name: str, keyring_name: str) -> str:
        """A secret from the environment/.env, else from the keyring; '' when nowhere."""
        value = self.get(name)
        if value or not self.use_keyring:
            return value
        return keyring_get(keyring_name)


def keyring_get(name: str) -> str:
    """Read one secret from the keyring; a machine without a backend answers ''."""
    try:
        import keyring
        from keyring.errors import KeyringError, NoKeyringError

        try:
            return keyring.get_password(KEYRING_SERVICE, name) or ""
        except (NoKeyringError, KeyringError, RuntimeError) as exc:
            log.debug("keyring unavailable: %s", type(exc).__name__)
            return ""
    except ImportError:  # pragma: no cover - keyring is a dependency
        return ""


def keyring_set(name: str, value: str) -> None:
    """Store one secret in the keyring; raise ConfigError with a way out when there is no backend."""
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        keyring.set_password(KEYRING_SERVICE, name, value)
    except (NoKeyringError, KeyringError, RuntimeError) as exc:
        raise ConfigError(NO_KEYRING_HINT) from exc


@dataclass(frozen=True)
class KisConfig:
    """What the KIS client needs. Secrets are hidden from repr."""

    env: Env
    app_key: str = field(repr=False)
    app_secret: str = field(repr=False)
    account: Account
    base_url: str  # '' for sim without KIS_BASE_URL: the simulator is started or found
    rate_limit: float
    data_dir: Path
    hts_id: str = ""  # KIS_HTS_ID: the key of the order/fill notices; '' = no notices, polling only
    ws_url: str = ""  # KIS_WS_URL override; '' = the environment's (sim: asked of the simulator)
    label: str = "main"  # the account's label (KIS_ACCOUNTS); one-account settings are `main`
    kind: AccountKind = AccountKind.GENERAL  # from the product code or KIS_<LABEL>_KIND

    @property
    def app_key_id(self) -> str:
        """A short, non-secret fingerprint of the app key (for cache file names and logs)."""
        return key_fingerprint(self.app_key)


def key_fingerprint(app_key: str) -> str:
    """12 hex digits of the app key's SHA-256: names it in file names, logs and the sim's health answer."""
    return hashlib.sha256(app_key.encode()).hexdigest()[:12]


def data_dir(source: Source) -> Path:
    return Path(source.get("KISBOT_DATA_DIR") or Path.home() / ".kisbot").expanduser()


def parse_rate_limit(text: str, default: float) -> float:
    """KIS_RATE_LIMIT's calls per second ('' = `default`); ConfigError outside MIN_RATE_LIMIT..MAX_RATE_LIMIT."""
    try:
        rate = float(text) if text else default
        # nan and inf would switch pacing off, a tiny rate would make every call wait for hours
        if not MIN_RATE_LIMIT <= rate <= MAX_RATE_LIMIT:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"KIS_RATE_LIMIT='{text}' is not a number of calls per second from {MIN_RATE_LIMIT:g} to "
            f"{MAX_RATE_LIMIT:g} (unset, it is {DEFAULT_RATE_LIMIT[Env.REAL]:g} for real accounts and "
            f"{DEFAULT_RATE_LIMIT[Env.MOCK]:g} for mock ones)") from None
    return rate


ACCOUNT_SETTING = re.compile(r"KIS_([A-Z0-9_]+?)_(ACCOUNT|APP_KEY|APP_SECRET|KIND|NAME)")
MAIN = "main"


def kis_env(source: Source) -> Env:
    """KIS_ENV, never real by default: an app key means mock, no key means the simulator."""
    env_name = source.get("KIS_ENV").lower()
    if not env_name:
        has_key = bool(source.get("KIS_APP_KEY") or (source.use_keyring and keyring_get("mock_app_key")))
        env_name = "mock" if has_key else "sim"
    try:
        return Env(env_name)
    except ValueError:
        raise ConfigError(f"KIS_ENV='{env_name}' is not one of sim, mock, real") from None


def account_labels(source: Source) -> tuple[str, ...]:
    """KIS_ACCOUNTS as labels (unset: just `main`); ConfigError for a bad or repeated label."""
    text = source.get("KIS_ACCOUNTS")
    if not text:
        labels: tuple[str, ...] = (MAIN,)
    else:
        try:
            labels = tuple(parse_label(part) for part in text.split(",") if part.strip())
        except ValueError as exc:
            raise ConfigError(f"KIS_ACCOUNTS: {exc}") from None
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ConfigError(f"KIS_ACCOUNTS names {', '.join(repeated)} more than once: list each account once")
        if not labels:
            raise ConfigError("KIS_ACCOUNTS is set but names no account: list labels such as main,pension")
    named = {m.group(1).lower() for name in (*source.environ, *source.dotenv)
             if (m := ACCOUNT_SETTING.fullmatch(name)) and source.get(name)}
    unknown = sorted(named - set(labels))
    if unknown:
        raise ConfigError(f"KIS_{unknown[0].upper()}_… is set but '{unknown[0]}' is not in KIS_ACCOUNTS "
                          f"({','.join(labels)}): add it there, or remove the setting")
    return labels


def _account_setting(source: Source, label: str, suffix: str) -> tuple[str, str]:
    """(name, value) of KIS_<LABEL>_<SUFFIX>; for `main` the one-account KIS_<SUFFIX> is read when unset."""
    name = f"KIS_{label.upper()}_{suffix}"
    value = source.get(name)
    if not value and label == MAIN and suffix in ("ACCOUNT", "APP_KEY", "APP_SECRET"):
        name = f"KIS_{suffix}"
        value = source.get(name)
    return name, value


def _load_account(source: Source, env: Env, label: str) -> KisAccount:
    """One account's settings, or ConfigError saying which to set."""
    key_name, app_key = _account_setting(source, label, "APP_KEY")
    secret_name, app_secret = _account_setting(source, label, "APP_SECRET")
    number_name, number_text = _account_setting(source, label, "ACCOUNT")
    if env is Env.SIM:
        default_key, default_secret = sim_credentials(label)
        app_key, app_secret = app_key or default_key, app_secret or default_secret
        number_text = number_text or (SIM_ACCOUNT if label == MAIN else "")
    elif source.use_keyring:
        prefix = f"{env.value}_" if label == MAIN else f"{env.value}_{label}_"
        app_key = app_key or keyring_get(f"{prefix}app_key")
        app_secret = app_secret or keyring_get(f"{prefix}app_secret")
    missing = [n for n, v in ((key_name, app_key), (secret_name, app_secret)) if not v]
    if missing:
        where = "" if label == MAIN else f" --account {label}"
        raise ConfigError(
            f"{' and '.join(missing)} not set for KIS_ENV={env.value}: set "
            f"{'them' if len(missing) > 1 else 'it'} in the environment or .env, or store "
            f"{'them' if len(missing) > 1 else 'it'} in the OS keyring with "
            f"`kisbot secrets set --env {env.value}{where}`")
    if not number_text:
        raise ConfigError(f"{number_name} not set for KIS_ENV={env.value}: set it as 12345678-01")
    try:
        number = AccountNumber.parse(number_text)
        kind = kind_of(number, source.get(f"KIS_{label.upper()}_KIND"))
    except ValueError as exc:
        raise ConfigError(f"{number_name}: {exc}") from None
    name = source.get(f"KIS_{label.upper()}_NAME") or label
    return KisAccount(label, name, number, kind, Credentials(app_key, app_secret))


def load_accounts(source: Source | None = None) -> tuple[KisAccount, ...]:
    """Every account KIS_ACCOUNTS lists (unset: the one-account settings as `main`), or ConfigError."""
    source = source or Source()
    env = kis_env(source)
    accounts = tuple(_load_account(source, env, label) for label in account_labels(source))
    numbers = [str(a.number) for a in accounts]
    repeated = sorted({n for n in numbers if numbers.count(n) > 1})
    if repeated:
        raise ConfigError(f"account {repeated[0]} is set for more than one label: give each label its own account")
    return accounts


ACCOUNTS_DIR = "accounts"


def account_data_dir(base: Path, label: str, labels: tuple[str, ...]) -> Path:
    """Where account `label` keeps its data: `main` (else the first listed) the data dir itself, so a one-account
    user's journal and model stay put; any other `<data dir>/accounts/<label>/`."""
    home = MAIN if MAIN in labels else labels[0]
    return Path(base) if label == home else Path(base) / ACCOUNTS_DIR / label


def load_kis_config(source: Source | None = None, label: str = "") -> KisConfig:
    """The KIS configuration of one account (`label`; '' = the first listed) or ConfigError saying what to set."""
    source = source or Source()
    env = kis_env(source)
    accounts = load_accounts(source)
    account = accounts[0]
    if label:
        try:
            account = find_account(accounts, label)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    rate = parse_rate_limit(source.get("KIS_RATE_LIMIT"), DEFAULT_RATE_LIMIT[env])
    return KisConfig(
        env=env,
        app_key=account.credentials.app_key,
        app_secret=account.credentials.app_secret,
        account=account.number,
        base_url=(source.get("KIS_BASE_URL") or BASE_URLS.get(env, "")).rstrip("/"),
        rate_limit=rate,
        data_dir=account_data_dir(data_dir(source), account.label, tuple(a.label for a in accounts)),
        hts_id=source.get("KIS_HTS_ID") or (SIM_HTS_ID if env is Env.SIM else ""),
        ws_url=source.get("KIS_WS_URL").rstrip("/"),
        label=account.label,
        kind=account.kind,
    )
