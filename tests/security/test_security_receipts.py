"""Receipt codes: format, entropy, normalization, and independent lookup and wrap derivations."""

import re

import pytest

from bot.security import (
    DecryptionError,
    InvalidCodeError,
    Secret,
    new_receipt_code,
    normalize_code,
    receipt_lookup,
    receipt_wrap_key,
    unwrap_with_code,
    wrap_with_code,
)
from bot.security.receipts import CODE_BITS, CROCKFORD_ALPHABET, WRAP_OVERHEAD
from tests.security.reference import hkdf_sha256, hmac_sha256

FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$")
LOOKUP_PEPPER = Secret(b"L" * 32)
WRAP_PEPPER = Secret(b"W" * 32)
SALT = bytes(16)
CODE = Secret("7KQ2-M9XD-3FHT-Q0AZ-W1BN")
KEY = Secret(bytes(range(97)))


def _decode(code: str) -> int:
    number = 0
    for char in code.replace("-", ""):
        number = number * 32 + CROCKFORD_ALPHABET.index(char)
    return number


def test_format_and_entropy():
    assert CODE_BITS >= 100
    assert len(CROCKFORD_ALPHABET) == 32
    assert set(CROCKFORD_ALPHABET).isdisjoint("ILOU")
    codes = {new_receipt_code().reveal() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert FORMAT.match(code), code
    assert set("".join(codes).replace("-", "")) == set(CROCKFORD_ALPHABET)


def test_code_encodes_the_top_100_random_bits():
    random = bytes([0xA5, 0x3C, 0xFF, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 0x0F])
    code = new_receipt_code(token_bytes=lambda n: random[:n]).reveal()
    assert _decode(code) == int.from_bytes(random, "big") >> 4
    assert new_receipt_code(token_bytes=bytes).reveal() == "0000-0000-0000-0000-0000"
    assert new_receipt_code(token_bytes=lambda n: b"\xff" * n).reveal() == "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ"


@pytest.mark.parametrize(
    "typed",
    [
        "7KQ2-M9XD-3FHT-Q0AZ-W1BN",
        "7kq2-m9xd-3fht-q0az-w1bn",
        "7KQ2M9XD3FHTQ0AZW1BN",
        " 7KQ2 M9XD 3FHT Q0AZ W1BN ",
        "7KQ2-M9XD-3FHT-QOAZ-WIBN",
        "7kq2--m9xd-3fht-qoaz-wlbn",
    ],
)
def test_normalization(typed):
    assert normalize_code(typed) == CODE
    assert normalize_code(Secret(typed)).reveal() == CODE.reveal()


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "7KQ2-M9XD-3FHT-Q0AZ-W1B",
        "7KQ2-M9XD-3FHT-Q0AZ-W1BNN",
        "7KQ2-M9XD-3FHT-Q0AZ-W1BU",
        "7KQ2-M9XD-3FHT-Q0AZ-W1B!",
    ],
)
def test_invalid_codes(typed):
    with pytest.raises(InvalidCodeError) as caught:
        normalize_code(typed)
    if typed:
        assert typed not in str(caught.value)


def test_lookup_is_deterministic_and_tolerant():
    value = receipt_lookup(CODE, LOOKUP_PEPPER)
    assert len(value) == 32
    assert receipt_lookup(Secret("7kq2 m9xd 3fht qoaz wibn"), LOOKUP_PEPPER) == value
    assert receipt_lookup(Secret("7KQ2-M9XD-3FHT-Q0AZ-W1BP"), LOOKUP_PEPPER) != value
    assert receipt_lookup(CODE, Secret(b"M" * 32)) != value


def test_lookup_and_wrap_are_independent():
    lookup = receipt_lookup(CODE, LOOKUP_PEPPER)
    wrap = receipt_wrap_key(CODE, WRAP_PEPPER, SALT).reveal()
    assert len(wrap) == 32
    assert lookup != wrap
    # Even if the same pepper were used for both by mistake, the labels keep the outputs apart.
    assert receipt_wrap_key(CODE, LOOKUP_PEPPER, SALT).reveal() != lookup
    for i in range(0, 32 - 4):
        assert lookup[i : i + 4] not in wrap
    # The wrap key depends on the wrap pepper and the salt, not on the lookup pepper.
    assert receipt_wrap_key(CODE, Secret(b"V" * 32), SALT).reveal() != wrap
    assert receipt_wrap_key(CODE, WRAP_PEPPER, b"\x01" * 16).reveal() != wrap
    assert receipt_wrap_key(Secret(CODE.reveal().lower()), WRAP_PEPPER, SALT).reveal() == wrap


def test_short_peppers_and_salts_are_refused():
    with pytest.raises(ValueError, match="pepper"):
        receipt_lookup(CODE, Secret(b"short"))
    with pytest.raises(ValueError, match="salt"):
        receipt_wrap_key(CODE, WRAP_PEPPER, b"1234")


def test_wrap_round_trip():
    blob = wrap_with_code(KEY, CODE, WRAP_PEPPER, "conversation-key:conv-1")
    assert len(blob) == len(KEY.reveal()) + WRAP_OVERHEAD == 97 + 45
    assert KEY.reveal() not in blob
    assert unwrap_with_code(blob, CODE, WRAP_PEPPER, "conversation-key:conv-1") == KEY
    typed = Secret("7kq2 m9xd 3fht qoaz wibn")
    assert unwrap_with_code(blob, typed, WRAP_PEPPER, "conversation-key:conv-1") == KEY
    assert wrap_with_code(KEY, CODE, WRAP_PEPPER, "x") != wrap_with_code(KEY, CODE, WRAP_PEPPER, "x")


@pytest.mark.parametrize(
    ("code", "pepper", "label"),
    [
        (Secret("7KQ2-M9XD-3FHT-Q0AZ-W1BP"), WRAP_PEPPER, "conversation-key:conv-1"),
        (CODE, Secret(b"V" * 32), "conversation-key:conv-1"),
        (CODE, LOOKUP_PEPPER, "conversation-key:conv-1"),
        (CODE, WRAP_PEPPER, "conversation-key:conv-2"),
    ],
    ids=["wrong-code", "wrong-pepper", "lookup-pepper", "wrong-label"],
)
def test_wrong_inputs_are_refused(code, pepper, label):
    blob = wrap_with_code(KEY, CODE, WRAP_PEPPER, "conversation-key:conv-1")
    with pytest.raises(DecryptionError):
        unwrap_with_code(blob, code, pepper, label)


def test_every_bit_flip_is_refused():
    blob = wrap_with_code(Secret(b"k" * 32), CODE, WRAP_PEPPER, "label")
    for index in range(len(blob)):
        for bit in range(8):
            tampered = bytearray(blob)
            tampered[index] ^= 1 << bit
            with pytest.raises(DecryptionError):
                unwrap_with_code(bytes(tampered), CODE, WRAP_PEPPER, "label")
    for bad in (b"", blob[:-1], blob[: WRAP_OVERHEAD - 1]):
        with pytest.raises(DecryptionError):
            unwrap_with_code(bad, CODE, WRAP_PEPPER, "label")


def test_derivations_match_the_reference_construction():
    code = CODE.reveal().encode()
    assert receipt_lookup(CODE, LOOKUP_PEPPER) == hmac_sha256(
        LOOKUP_PEPPER.reveal(), b"vipbot/receipt-lookup/v1\x00" + code
    )
    expected_wrap = hkdf_sha256(
        hmac_sha256(WRAP_PEPPER.reveal(), b"vipbot/receipt-wrap/v1\x00" + code),
        salt=SALT,
        info=b"vipbot/receipt-wrap-key/v1",
    )
    assert receipt_wrap_key(CODE, WRAP_PEPPER, SALT).reveal() == expected_wrap


def test_wrap_key_is_not_a_function_of_the_lookup_value():
    # Even with one pepper for both, knowing the lookup value (the database does) must not give the wrap key.
    same = LOOKUP_PEPPER
    lookup = receipt_lookup(CODE, same)
    wrap = receipt_wrap_key(CODE, same, SALT).reveal()
    assert hkdf_sha256(lookup, salt=SALT, info=b"vipbot/receipt-wrap-key/v1") != wrap
    assert hmac_sha256(lookup, SALT) != wrap
