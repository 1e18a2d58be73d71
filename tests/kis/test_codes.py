"""What a stock code is: six characters of digits and capital letters, one rule for every input."""
import pytest

from kis.codes import BadStockCode, is_code, normalize_code


@pytest.mark.parametrize("given, code", [
    ("005930", "005930"), ("0013V0", "0013V0"), ("0126z0", "0126Z0"), (" 0007c0 ", "0007C0"),
    (5930, "005930"), (5930.0, "005930"), ("5930", "005930"), ("A005930", "005930"), ("a0013v0", "0013V0"),
])
def test_a_code_is_upper_cased_and_a_number_gets_its_zeros_back(given, code):
    assert normalize_code(given) == code


@pytest.mark.parametrize("given", ["13V0", "013V0", "0013V", "0013V00", "5930A", "59 30", "1234567", "", "0",
                                   0, -5930, 59.5, 1_000_000, True, None, "Q500001", "００５９３０", "005930.KS"])
def test_anything_else_is_refused_and_a_code_with_a_letter_is_never_padded(given):
    with pytest.raises(BadStockCode) as err:
        normalize_code(given)
    assert str(err.value).endswith("is not a 6-character stock code such as 005930 or 0013V0")
    assert not is_code(given)


def test_the_message_shows_the_input_as_written():
    assert str(BadStockCode(59.0)) == "'59' is not a 6-character stock code such as 005930 or 0013V0"
    assert str(BadStockCode(" 13v0 ")) == "'13v0' is not a 6-character stock code such as 005930 or 0013V0"


# --- symbols: KRX codes and US tickers ------------------------------------------------------------

from kis.codes import BadSymbol, is_symbol, is_ticker, normalize_ticker, split_symbol  # noqa: E402


@pytest.mark.parametrize("given", ["ABCDEF", "AAPLXX", "abcdef", "SAMSNG"])
def test_six_letters_are_never_a_krx_code_since_a_krx_code_starts_with_a_digit(given):
    assert not is_code(given)
    with pytest.raises(BadStockCode):
        normalize_code(given)


@pytest.mark.parametrize("given, ticker", [
    ("AAPL", "AAPL"), ("ko", "KO"), (" spy ", "SPY"), ("A", "A"), ("GOOGL", "GOOGL"), ("BRK.B", "BRK.B"),
    ("brk/b", "BRK.B"), ("BF.A", "BF.A"),
])
def test_a_us_ticker_is_one_to_five_letters_with_an_optional_class_suffix(given, ticker):
    assert normalize_ticker(given) == ticker and is_ticker(given)


@pytest.mark.parametrize("given", ["", "ABCDEF", "AAPL1", "BRK.", ".B", "BRK.BBB", "005930", "0013V0", "A-B",
                                   5930, None, "ＡＡＰＬ"])
def test_anything_else_is_not_a_ticker(given):
    assert not is_ticker(given)
    with pytest.raises(BadSymbol):
        normalize_ticker(given)


@pytest.mark.parametrize("given, split", [
    ("005930", ("", "005930")), ("0013v0", ("", "0013V0")), ("A005930", ("", "005930")), (5930, ("", "005930")),
    ("AAPL", ("", "AAPL")), ("NYSE:KO", ("NYSE", "KO")), ("nasdaq: aapl", ("NASDAQ", "AAPL")),
    ("AMEX:SPY", ("AMEX", "SPY")),
])
def test_a_symbol_is_a_krx_code_or_a_ticker_and_an_exchange_prefix_is_kept_as_written(given, split):
    assert split_symbol(given) == split and is_symbol(given)


@pytest.mark.parametrize("given", ["ABCDEF", "13V0", "NYSE:005930", "NYSE:", ":KO", "Q500001", "", None, 59.5])
def test_a_symbol_that_is_neither_says_both_forms(given):
    assert not is_symbol(given)
    with pytest.raises(BadSymbol) as err:
        split_symbol(given)
    assert str(err.value).endswith("is not a 6-character stock code such as 005930 or 0013V0 "
                                   "or a US ticker such as AAPL or BRK.B")
