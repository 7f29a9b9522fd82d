"""HPKE sealing: round trips, context binding, tampering, key serialization."""

import itertools

import pytest

from bot.security import (
    Context,
    DecryptionError,
    Direction,
    InvalidKeyError,
    KeyPair,
    Purpose,
    Secret,
    generate_keypair,
    load_opening_key,
    open_sealed,
    open_secret,
    public_key_of,
    seal,
    seal_secret,
)
from bot.security.hpke import PRIVATE_KEY_LEN, PUBLIC_KEY_LEN, SEAL_OVERHEAD
from tests.security.reference import frame

MSG = Context.message("conv-1", Direction.EMPLOYEE, 7)


@pytest.fixture(scope="module")
def keypair() -> KeyPair:
    return generate_keypair()


def test_sizes(keypair):
    assert len(keypair.public) == PUBLIC_KEY_LEN == 1 + 1184 + 32
    assert len(keypair.private.reveal()) == PRIVATE_KEY_LEN == 97
    assert len(keypair.private.reveal()) >= 96
    assert keypair.public[0] == 1
    assert keypair.private.reveal()[0] == 1
    assert SEAL_OVERHEAD == 1137
    for size in (0, 1, 4096):
        assert len(seal(keypair.public, b"x" * size, context=MSG)) == size + SEAL_OVERHEAD


def test_round_trip(keypair):
    for plaintext in (b"", b"hallo", bytes(range(256)) * 40):
        ciphertext = seal(keypair.public, plaintext, context=MSG)
        assert plaintext not in ciphertext or plaintext == b""
        assert open_sealed(keypair.private, ciphertext, context=MSG) == plaintext
        assert load_opening_key(keypair.private).open(ciphertext, context=MSG) == plaintext


def test_sealing_is_randomised(keypair):
    assert seal(keypair.public, b"same", context=MSG) != seal(keypair.public, b"same", context=MSG)


def test_other_key_pair_cannot_open(keypair):
    other = generate_keypair()
    ciphertext = seal(keypair.public, b"secret", context=MSG)
    with pytest.raises(DecryptionError):
        open_sealed(other.private, ciphertext, context=MSG)


@pytest.mark.parametrize(
    "wrong",
    [
        Context.message("conv-2", Direction.EMPLOYEE, 7),
        Context.message("conv-1", Direction.COUNSELLOR, 7),
        Context.message("conv-1", Direction.EMPLOYEE, 8),
        Context.message("conv-1", Direction.EMPLOYEE, 6),
        Context.conversation_key("conv-1", "counsellor-7"),
    ],
    ids=["conversation", "direction", "sequence+1", "sequence-1", "purpose"],
)
def test_wrong_context_is_refused(keypair, wrong):
    ciphertext = seal(keypair.public, b"secret", context=MSG)
    with pytest.raises(DecryptionError):
        open_sealed(keypair.private, ciphertext, context=wrong)


def test_wrong_recipient_is_refused(keypair):
    ctx = Context.conversation_key("conv-1", "counsellor-a")
    ciphertext = seal_secret(keypair.public, Secret(b"k" * 97), context=ctx)
    assert open_secret(keypair.private, ciphertext, context=ctx) == Secret(b"k" * 97)
    with pytest.raises(DecryptionError):
        open_secret(keypair.private, ciphertext, context=Context.conversation_key("conv-1", "counsellor-b"))


def test_every_bit_flip_is_refused(keypair):
    opener = load_opening_key(keypair.private)
    ciphertext = seal(keypair.public, b"tamper me", context=MSG)
    for index, bit in itertools.product(range(len(ciphertext)), range(8)):
        tampered = bytearray(ciphertext)
        tampered[index] ^= 1 << bit
        with pytest.raises(DecryptionError):
            opener.open(bytes(tampered), context=MSG)


def test_truncated_and_extended_ciphertexts_are_refused(keypair):
    ciphertext = seal(keypair.public, b"abc", context=MSG)
    for bad in (b"", ciphertext[:1], ciphertext[:-1], ciphertext + b"\x00", ciphertext[1:]):
        with pytest.raises(DecryptionError):
            open_sealed(keypair.private, bad, context=MSG)


def test_serialized_key_pair_reloads(keypair):
    ciphertext = seal(keypair.public, b"from before the restart", context=MSG)
    stored_public = bytes(bytearray(keypair.public))
    stored_private = bytes(bytearray(keypair.private.reveal()))
    reloaded = KeyPair(public=stored_public, private=Secret(stored_private))
    assert open_sealed(reloaded.private, ciphertext, context=MSG) == b"from before the restart"
    assert public_key_of(reloaded.private) == keypair.public
    again = seal(reloaded.public, b"after", context=MSG)
    assert open_sealed(keypair.private, again, context=MSG) == b"after"


def test_key_generation_uses_injected_randomness():
    def fixed(n: int) -> bytes:
        return bytes([0x42]) * n

    first = generate_keypair(token_bytes=fixed)
    second = generate_keypair(token_bytes=fixed)
    assert first.public == second.public
    assert first.private == second.private
    assert first.private.reveal()[1:65] == bytes([0x42]) * 64
    assert generate_keypair().public != first.public
    with pytest.raises(ValueError, match="wrong number"):
        generate_keypair(token_bytes=lambda n: b"short")


def test_malformed_keys_are_refused(keypair):
    with pytest.raises(InvalidKeyError):
        seal(keypair.public[:-1], b"x", context=MSG)
    with pytest.raises(InvalidKeyError):
        seal(b"\x02" + keypair.public[1:], b"x", context=MSG)
    with pytest.raises(InvalidKeyError):
        open_sealed(Secret(keypair.private.reveal()[:-1]), b"\x01" * 2000, context=MSG)
    with pytest.raises(InvalidKeyError):
        load_opening_key(Secret(b"\x02" + keypair.private.reveal()[1:]))


def test_context_encodings_are_distinct():
    contexts = [
        Context.message("a", Direction.EMPLOYEE, 0),
        Context.message("a", Direction.EMPLOYEE, 1),
        Context.message("a", Direction.COUNSELLOR, 0),
        Context.message("b", Direction.EMPLOYEE, 0),
        Context.message("ab", Direction.EMPLOYEE, 0),
        Context.message("a\x00", Direction.EMPLOYEE, 0),
        Context.message("a", Direction.EMPLOYEE, 256),
        Context.message("a", Direction.EMPLOYEE, 2**64 - 1),
        Context.conversation_key("a", "b"),
        Context.conversation_key("ab", "c"),
        Context.conversation_key("a", "bc"),
        Context.conversation_key("a", "employee"),
    ]
    encodings = {c.encode() for c in contexts}
    assert len(encodings) == len(contexts)
    assert (
        Context.message("a", Direction.EMPLOYEE, 3).encode()
        == Context.message("a", Direction.EMPLOYEE, 3).encode()
    )


def test_context_validation():
    with pytest.raises(ValueError, match="conversation_id"):
        Context.message("", Direction.EMPLOYEE, 0)
    with pytest.raises(ValueError, match="sequence"):
        Context.message("a", Direction.EMPLOYEE, -1)
    with pytest.raises(ValueError, match="sequence"):
        Context.message("a", Direction.EMPLOYEE, True)
    with pytest.raises(ValueError, match="recipient"):
        Context.conversation_key("a", "")
    with pytest.raises(ValueError, match="direction and sequence"):
        Context(Purpose.MESSAGE, "a", direction=Direction.EMPLOYEE)
    with pytest.raises(ValueError, match="no direction"):
        Context(Purpose.CONVERSATION_KEY, "a", direction=Direction.EMPLOYEE, recipient_id="c")
    with pytest.raises(TypeError):
        Context("message", "a", direction=Direction.EMPLOYEE, sequence=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sequence"):
        Context.message("a", Direction.EMPLOYEE, 2**64)


def test_context_encoding_is_stable():
    # The encoding is part of every stored ciphertext: changing it makes stored messages unreadable.
    assert Context.message("conv-1", Direction.EMPLOYEE, 7).encode() == frame(
        b"vipbot/hpke-context",
        b"\x01",
        b"message",
        b"conv-1",
        b"\x01employee",
        b"\x01" + (7).to_bytes(8, "big"),
        b"\x00",
    )
    assert Context.conversation_key("conv-1", "c-1").encode() == frame(
        b"vipbot/hpke-context", b"\x01", b"conversation-key", b"conv-1", b"\x00", b"\x00", b"\x01c-1"
    )
