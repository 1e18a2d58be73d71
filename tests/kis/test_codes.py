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
