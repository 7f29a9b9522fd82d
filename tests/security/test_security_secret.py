"""`Secret` never prints, compares in constant time, and the package loads lazily."""

import copy
import dataclasses
import logging
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from bot.security import (
    INSECURE_TEST_ARGON2_PARAMS,
    Context,
    DecryptionError,
    Direction,
    SecretBox,
    WrongPassphraseError,
    generate_keypair,
    load_opening_key,
    new_receipt_code,
    new_totp_secret,
    normalize_code,
    open_sealed,
    protect_private_key,
    seal,
    totp_uri,
    unlock_private_key,
)
from bot.security.secret import Secret

CANARY = "CANARY-7f3a91-do-not-print"
CANARY_BYTES = CANARY.encode() + bytes(6)  # 32 bytes
REPO = Path(__file__).resolve().parents[2]


def _shown(obj: object) -> list[str]:
    return [
        repr(obj),
        str(obj),
        f"{obj}",
        f"{obj!r}",
        f"{obj:>10}" if isinstance(obj, Secret) else "",
    ]


def _assert_hidden(obj: object, *material: bytes) -> None:
    for text in _shown(obj):
        assert CANARY not in text
        for m in material:
            assert m.hex()[:16] not in text
            assert repr(m)[2:18] not in text


def test_secret_masks_every_rendering():
    s = Secret(CANARY)
    b = Secret(CANARY_BYTES)
    assert repr(s) == "Secret('***')"
    assert str(b) == "Secret('***')"
    assert f"{s}" == "Secret('***')"
    assert f"{s:>30}" == "Secret('***')"
    _assert_hidden(s)
    _assert_hidden(b, CANARY_BYTES)
    _assert_hidden([s, {"k": b}])
    assert s.reveal() == CANARY
    assert b.reveal() == CANARY_BYTES


def test_secret_in_logging_is_masked(caplog):
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("value=%s repr=%r", Secret(CANARY), Secret(CANARY))
    assert CANARY not in caplog.text
    assert "Secret('***')" in caplog.text


def test_secret_equality_and_immutability():
    assert Secret(b"abc") == Secret(b"abc")
    assert Secret(b"abc") != Secret(b"abd")
    assert Secret("abc") == Secret("abc")
    assert Secret("é") == Secret("é")
    assert Secret("abc") != Secret(b"abc")
    assert Secret(b"abc") != b"abc"
    with pytest.raises(TypeError):
        hash(Secret(b"abc"))
    s = Secret(b"abc")
    with pytest.raises(AttributeError):
        s._value = b"x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        s.other = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        Secret(bytearray(b"x"))  # type: ignore[type-var]


def test_secret_refuses_pickle_but_copies():
    s = Secret(CANARY_BYTES)
    with pytest.raises(TypeError):
        pickle.dumps(s)
    assert copy.copy(s) is s
    assert copy.deepcopy(s) is s


def test_objects_holding_secrets_never_show_them():
    kp = generate_keypair()
    raw_private = kp.private.reveal()
    _assert_hidden(kp, raw_private[1:], raw_private[-16:])
    assert "Secret('***')" in repr(kp)
    assert "1217 bytes" in repr(kp)
    _assert_hidden(dataclasses.asdict(kp), raw_private[1:])
    _assert_hidden(load_opening_key(kp.private), raw_private[1:])

    box = SecretBox(Secret(CANARY_BYTES), "slack-tokens")
    _assert_hidden(box, CANARY_BYTES)
    assert "slack-tokens" in repr(box)

    wrapped = protect_private_key(kp.private, Secret(CANARY), "c-1", INSECURE_TEST_ARGON2_PARAMS)
    _assert_hidden(wrapped, raw_private[1:])

    ctx = Context.message("conv-" + CANARY, Direction.EMPLOYEE, 1)
    _assert_hidden(ctx)
    assert "employee" in repr(ctx)

    code = new_receipt_code()
    assert code.reveal() not in repr(code)
    assert code.reveal() not in repr(normalize_code(code.reveal().lower()))

    totp = new_totp_secret()
    _assert_hidden(totp_uri(totp, "anne@example.nl"), totp.reveal())


def test_error_messages_hold_no_secret_material():
    kp = generate_keypair()
    ciphertext = seal(kp.public, CANARY_BYTES, context=Context.message(CANARY, Direction.EMPLOYEE, 0))
    with pytest.raises(DecryptionError) as caught:
        open_sealed(kp.private, ciphertext, context=Context.message(CANARY, Direction.EMPLOYEE, 1))
    assert CANARY not in str(caught.value)
    assert CANARY not in repr(caught.value)

    wrapped = protect_private_key(kp.private, Secret(CANARY), CANARY, INSECURE_TEST_ARGON2_PARAMS)
    with pytest.raises(WrongPassphraseError) as wrong:
        unlock_private_key(wrapped, Secret(CANARY + "x"), CANARY)
    assert CANARY not in str(wrong.value)

    with pytest.raises(Exception) as bad_code:  # noqa: PT011 - checking the message of whatever is raised
        normalize_code(CANARY)
    assert CANARY not in str(bad_code.value)


def test_secret_and_errors_import_without_cryptography():
    probe = (
        "import sys\n"
        "from bot.security.secret import Secret\n"
        "from bot.security.errors import DecryptionError\n"
        "import bot.security\n"
        "assert not any(m.startswith(('cryptography', 'argon2')) for m in sys.modules), 'eager import'\n"
        "assert bot.security.Secret is Secret\n"
        "bot.security.seal\n"
        "assert 'cryptography' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", probe], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_unknown_attribute_of_package_raises():
    import bot.security

    with pytest.raises(AttributeError):
        bot.security.does_not_exist  # noqa: B018
