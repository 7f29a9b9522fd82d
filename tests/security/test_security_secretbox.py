"""SecretBox, derive_key and keyed_hash."""

import hashlib
import hmac

import pytest

from bot.security import DecryptionError, Secret, SecretBox, derive_key, keyed_hash
from bot.security.secretbox import BOX_OVERHEAD
from tests.security.reference import frame, hkdf_sha256

MASTER = Secret(bytes(range(32)))
TOKEN = b"xoxb-1234-5678-abcdefghijklmnop"


def test_round_trip_and_size():
    box = SecretBox(MASTER, "slack-tokens")
    blob = box.encrypt(TOKEN, b"installation:42")
    assert len(blob) == len(TOKEN) + BOX_OVERHEAD == len(TOKEN) + 29
    assert blob[0] == 1
    assert TOKEN not in blob
    assert box.decrypt(blob, b"installation:42") == TOKEN
    assert SecretBox(Secret(bytes(range(32))), "slack-tokens").decrypt(blob, b"installation:42") == TOKEN
    assert box.decrypt(box.encrypt(b"")) == b""


def test_nonces_are_random_and_injectable():
    box = SecretBox(MASTER, "p")
    assert box.encrypt(TOKEN) != box.encrypt(TOKEN)
    fixed = SecretBox(MASTER, "p", token_bytes=lambda n: b"\x07" * n)
    first = fixed.encrypt(TOKEN)
    assert first == fixed.encrypt(TOKEN)
    assert first[1:13] == b"\x07" * 12
    assert box.decrypt(first) == TOKEN


@pytest.mark.parametrize(
    ("master", "purpose", "associated"),
    [
        (Secret(bytes(range(1, 33))), "slack-tokens", b"installation:42"),
        (MASTER, "teams-references", b"installation:42"),
        (MASTER, "slack-tokens", b"installation:43"),
        (MASTER, "slack-tokens", b""),
    ],
    ids=["master", "purpose", "associated", "no-associated"],
)
def test_wrong_key_purpose_or_associated_data(master, purpose, associated):
    blob = SecretBox(MASTER, "slack-tokens").encrypt(TOKEN, b"installation:42")
    with pytest.raises(DecryptionError):
        SecretBox(master, purpose).decrypt(blob, associated)


def test_every_bit_flip_is_refused():
    box = SecretBox(MASTER, "p")
    blob = box.encrypt(b"secret", b"ad")
    for index in range(len(blob)):
        for bit in range(8):
            tampered = bytearray(blob)
            tampered[index] ^= 1 << bit
            with pytest.raises(DecryptionError):
                box.decrypt(bytes(tampered), b"ad")
    for bad in (b"", blob[: BOX_OVERHEAD - 1], blob[:-1]):
        with pytest.raises(DecryptionError):
            box.decrypt(bad, b"ad")


def test_short_master_key_and_empty_purpose_are_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        SecretBox(Secret(b"x" * 31), "p")
    with pytest.raises(ValueError, match="purpose"):
        SecretBox(MASTER, "")


def test_derive_key():
    a = derive_key(MASTER, "pulse:1")
    assert len(a.reveal()) == 32
    assert a == derive_key(Secret(bytes(range(32))), "pulse:1")
    assert a != derive_key(MASTER, "pulse:2")
    assert a != derive_key(Secret(bytes(range(1, 33))), "pulse:1")
    assert a.reveal() != MASTER.reveal()
    assert len(derive_key(MASTER, "long", length=64).reveal()) == 64
    assert derive_key(MASTER, "long", length=64).reveal()[:32] != a.reveal()
    with pytest.raises(ValueError, match="length"):
        derive_key(MASTER, "p", length=0)


def test_keyed_hash_is_hmac_sha256():
    key = derive_key(MASTER, "pulse:1")
    value = keyed_hash(key, b"U0123ABC")
    assert value == hmac.new(key.reveal(), b"U0123ABC", hashlib.sha256).digest()
    assert len(value) == 32
    assert value != keyed_hash(derive_key(MASTER, "pulse:2"), b"U0123ABC")
    assert value != keyed_hash(key, b"U0123ABD")


def test_derive_key_matches_the_reference_construction():
    expected = hkdf_sha256(
        MASTER.reveal(), salt=None, info=frame(b"vipbot/derive-key/v1", b"pulse:1"), length=48
    )
    assert derive_key(MASTER, "pulse:1", length=48).reveal() == expected


def test_box_format_is_stable():
    # Known answer: master 00..1f, purpose "slack-tokens", nonce 07*12. A change here breaks stored tokens.
    box = SecretBox(MASTER, "slack-tokens", token_bytes=lambda n: b"\x07" * n)
    assert box.encrypt(b"xoxb-1234", b"installation:42").hex() == (
        "01070707070707070707070707dcf127262b19d31a7290f4fb27c4397e7605ebc15edd45bd1a"
    )
    box_key = hkdf_sha256(MASTER.reveal(), salt=None, info=frame(b"vipbot/secretbox/v1", b"slack-tokens"))
    assert derive_key(MASTER, "slack-tokens").reveal() != box_key
