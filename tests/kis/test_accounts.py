"""Several KIS accounts: KIS_ACCOUNTS and KIS_<LABEL>_*, kinds from product codes, one-sentence refusals."""
from pathlib import Path

import pytest

from kis.accounts import AccountKind, find_account, kind_of, parse_label
from kis.config import Source, load_accounts, load_kis_config
from kis.errors import ConfigError
from kis.models import Account as AccountNumber
from kis.models import Env

REAL = {"KIS_ENV": "real", "KIS_APP_KEY": "PSmainkey", "KIS_APP_SECRET": "mainsecret", "KIS_ACCOUNT": "50087375-01"}
TWO = {**REAL, "KIS_ACCOUNTS": "main,pension", "KIS_PENSION_ACCOUNT": "50087376-22",
       "KIS_PENSION_APP_KEY": "PSpensionkey", "KIS_PENSION_APP_SECRET": "pensionsecret",
       "KIS_PENSION_NAME": "연금저축"}


def source(environ: dict[str, str], tmp_path: Path) -> Source:
    return Source(environ=environ, dotenv_path=tmp_path / "none.env", use_keyring=False)


def refusal(environ: dict[str, str], tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_accounts(source(environ, tmp_path))
    return str(caught.value)


def test_one_account_settings_become_one_account_labelled_main_with_the_same_config(tmp_path):
    (account,) = load_accounts(source(REAL, tmp_path))
    assert (account.label, account.name, str(account.number), account.kind) == \
        ("main", "main", "50087375-01", AccountKind.GENERAL)
    assert account.credentials.app_key == "PSmainkey"
    config = load_kis_config(source(REAL, tmp_path))
    assert (config.label, config.kind, config.app_key, str(config.account)) == \
        ("main", AccountKind.GENERAL, "PSmainkey", "50087375-01")


def test_two_accounts_each_have_their_own_number_keys_kind_and_name(tmp_path):
    main, pension = load_accounts(source(TWO, tmp_path))
    assert main.label == "main" and main.credentials.app_key == "PSmainkey"
    assert (pension.label, pension.name, pension.kind) == ("pension", "연금저축", AccountKind.PENSION)
    assert (pension.credentials.app_key, pension.credentials.app_secret) == ("PSpensionkey", "pensionsecret")
    config = load_kis_config(source(TWO, tmp_path), label="pension")
    assert (config.app_key, str(config.account), config.kind) == ("PSpensionkey", "50087376-22", AccountKind.PENSION)


def test_secrets_stay_out_of_an_accounts_repr(tmp_path):
    text = repr(load_accounts(source(TWO, tmp_path)))
    assert "PSpensionkey" not in text and "pensionsecret" not in text and "mainsecret" not in text


@pytest.mark.parametrize("product, kind", [("01", AccountKind.GENERAL), ("22", AccountKind.PENSION),
                                           ("29", AccountKind.IRP)])
def test_the_product_code_gives_the_kind(product, kind):
    assert kind_of(AccountNumber("50087375", product)) is kind


def test_a_general_product_code_is_an_isa_when_the_setting_says_so(tmp_path):
    environ = {**TWO, "KIS_ACCOUNTS": "main,isa", "KIS_ISA_ACCOUNT": "50087377-01", "KIS_ISA_KIND": "ISA",
               "KIS_ISA_APP_KEY": "k", "KIS_ISA_APP_SECRET": "s"}
    environ = {k: v for k, v in environ.items() if not k.startswith("KIS_PENSION")}
    assert load_accounts(source(environ, tmp_path))[1].kind is AccountKind.ISA


def test_an_unknown_product_code_is_refused_in_one_sentence(tmp_path):
    text = refusal({**TWO, "KIS_PENSION_ACCOUNT": "50087376-03"}, tmp_path)
    assert "KIS_PENSION_ACCOUNT" in text and "product code 03" in text and "22 (연금저축)" in text
    assert text.count(". ") == 0 and "\n" not in text


def test_a_kind_that_contradicts_the_product_code_is_refused(tmp_path):
    text = refusal({**TWO, "KIS_PENSION_KIND": "general"}, tmp_path)
    assert "kind pension by its product code 22, not general" in text


def test_an_unknown_kind_word_is_refused(tmp_path):
    assert "'retire' is not one of general, isa, pension, irp" in refusal({**TWO, "KIS_PENSION_KIND": "retire"},
                                                                          tmp_path)


def test_a_setting_for_a_label_not_in_kis_accounts_is_refused_naming_it(tmp_path):
    text = refusal({**TWO, "KIS_IRP_ACCOUNT": "50087378-29"}, tmp_path)
    assert "'irp' is not in KIS_ACCOUNTS (main,pension)" in text


def test_a_second_account_without_kis_accounts_is_refused_rather_than_ignored(tmp_path):
    environ = {k: v for k, v in TWO.items() if k != "KIS_ACCOUNTS"}
    assert "'pension' is not in KIS_ACCOUNTS (main)" in refusal(environ, tmp_path)


def test_a_missing_app_key_names_the_labelled_setting_and_the_keyring_command(tmp_path):
    text = refusal({k: v for k, v in TWO.items() if k != "KIS_PENSION_APP_KEY"}, tmp_path)
    assert "KIS_PENSION_APP_KEY not set for KIS_ENV=real" in text
    assert "kisbot secrets set --env real --account pension" in text


def test_a_missing_account_number_names_the_labelled_setting(tmp_path):
    text = refusal({k: v for k, v in TWO.items() if k != "KIS_PENSION_ACCOUNT"}, tmp_path)
    assert text.startswith("KIS_PENSION_ACCOUNT not set")


@pytest.mark.parametrize("labels", ["main,연금", "main,1st", "main,pen-sion"])
def test_a_label_that_is_not_ascii_letters_digits_or_underscore_is_refused(labels, tmp_path):
    assert refusal({**TWO, "KIS_ACCOUNTS": labels}, tmp_path).startswith("KIS_ACCOUNTS: account label")


def test_a_label_listed_twice_is_refused(tmp_path):
    assert "names pension more than once" in refusal({**TWO, "KIS_ACCOUNTS": "main,pension,Pension"}, tmp_path)


def test_one_account_number_under_two_labels_is_refused(tmp_path):
    assert "50087375-01 is set for more than one label" in refusal({**TWO, "KIS_PENSION_ACCOUNT": "50087375-01",
                                                                     "KIS_PENSION_KIND": ""}, tmp_path)


def test_choosing_an_unknown_label_names_the_labels_there_are(tmp_path):
    accounts = load_accounts(source(TWO, tmp_path))
    assert find_account(accounts, "@Pension").label == "pension"
    with pytest.raises(ValueError, match="no account labelled 'isa': the accounts are main, pension"):
        find_account(accounts, "isa")
    with pytest.raises(ConfigError, match="no account labelled 'isa'"):
        load_kis_config(source(TWO, tmp_path), label="isa")


def test_sim_accounts_need_no_keys_and_main_keeps_the_simulators_number(tmp_path):
    environ = {"KIS_ENV": "sim", "KIS_ACCOUNTS": "main,pension", "KIS_PENSION_ACCOUNT": "50000001-22"}
    main, pension = load_accounts(source(environ, tmp_path))
    assert str(main.number) == "50000000-01" and pension.kind is AccountKind.PENSION
    assert load_kis_config(source(environ, tmp_path)).env is Env.SIM


def test_parse_label_lowercases_an_ascii_label():
    assert parse_label(" IRP ") == "irp"
