"""Passphrase-wrapped counsellor keys (Argon2id + ChaCha20-Poly1305)."""

import threading
import time

import pytest

from bot.security import (
    DEFAULT_ARGON2_PARAMS,
    INSECURE_TEST_ARGON2_PARAMS,
    Argon2Params,
    InvalidKeyError,
    Secret,
    SecurityError,
    WrappedKey,
    WrongPassphraseError,
    generate_keypair,
    needs_rewrap,
    protect_private_key,
    rewrap,
    unlock_private_key,
)
from bot.security.counsellor_keys import _derive
from tests.security.reference import argon2id

CHEAP = INSECURE_TEST_ARGON2_PARAMS
PASS = Secret("correct horse battery staple")
PRIVATE = Secret(bytes(range(97)))


@pytest.fixture(scope="module")
def wrapped() -> WrappedKey:
    return protect_private_key(PRIVATE, PASS, "counsellor-1", CHEAP)


def test_round_trip(wrapped):
    assert unlock_private_key(wrapped, PASS, "counsellor-1") == PRIVATE
    assert unlock_private_key(wrapped, PASS, "counsellor-1").reveal() == bytes(range(97))


def test_serialization_round_trip_and_size(wrapped):
    blob = wrapped.to_bytes()
    assert len(blob) == 1 + 12 + 16 + 12 + 97 + 16 == 154
    assert blob[0] == 1
    assert bytes(range(97)) not in blob
    again = WrappedKey.from_bytes(blob)
    assert again == wrapped
    assert again.params == CHEAP
    assert unlock_private_key(again, PASS, "counsellor-1") == PRIVATE


def test_wrong_passphrase(wrapped):
    for wrong in ("correct horse battery stapl", "Correct horse battery staple", "x"):
        with pytest.raises(WrongPassphraseError):
            unlock_private_key(wrapped, Secret(wrong), "counsellor-1")


def test_other_counsellor_id_is_refused(wrapped):
    with pytest.raises(WrongPassphraseError):
        unlock_private_key(wrapped, PASS, "counsellor-2")


def test_passphrase_is_unicode_normalised():
    composed = Secret("caf\u00e9-geheim")
    decomposed = Secret("cafe\u0301-geheim")
    wrapped = protect_private_key(PRIVATE, composed, "c", CHEAP)
    assert unlock_private_key(wrapped, decomposed, "c") == PRIVATE


def test_fresh_salt_and_nonce_each_time():
    a = protect_private_key(PRIVATE, PASS, "c", CHEAP)
    b = protect_private_key(PRIVATE, PASS, "c", CHEAP)
    assert a.salt != b.salt
    assert a.nonce != b.nonce
    assert a.ciphertext != b.ciphertext


def test_injected_randomness_is_used():
    def counter_bytes(n: int) -> bytes:
        return bytes(range(n))

    a = protect_private_key(PRIVATE, PASS, "c", CHEAP, token_bytes=counter_bytes)
    b = protect_private_key(PRIVATE, PASS, "c", CHEAP, token_bytes=counter_bytes)
    assert a.to_bytes() == b.to_bytes()
    assert a.salt == bytes(range(16))
    assert a.nonce == bytes(range(12))


def test_every_byte_changed_is_refused(wrapped):
    blob = wrapped.to_bytes()
    for index in range(len(blob)):
        tampered = bytearray(blob)
        tampered[index] ^= 1 << (index % 8)
        with pytest.raises((WrongPassphraseError, InvalidKeyError)):
            unlock_private_key(WrappedKey.from_bytes(bytes(tampered)), PASS, "counsellor-1")


def test_malformed_blobs_are_refused(wrapped):
    blob = wrapped.to_bytes()
    for bad in (b"", blob[:40], b"\x02" + blob[1:]):
        with pytest.raises(InvalidKeyError):
            WrappedKey.from_bytes(bad)
    huge_memory = blob[:9] + (4 * 1024 * 1024).to_bytes(4, "big") + blob[13:]
    with pytest.raises(InvalidKeyError):
        WrappedKey.from_bytes(huge_memory)
    assert issubclass(InvalidKeyError, SecurityError)


def test_rewrap_changes_passphrase(wrapped):
    new = Secret("a brand new passphrase")
    rewrapped = rewrap(wrapped, PASS, new, "counsellor-1")
    assert rewrapped.salt != wrapped.salt
    assert rewrapped.params == wrapped.params
    assert unlock_private_key(rewrapped, new, "counsellor-1") == PRIVATE
    with pytest.raises(WrongPassphraseError):
        unlock_private_key(rewrapped, PASS, "counsellor-1")
    with pytest.raises(WrongPassphraseError):
        rewrap(wrapped, Secret("not it"), new, "counsellor-1")


def test_rewrap_can_upgrade_parameters(wrapped):
    stronger = Argon2Params(time_cost=2, lanes=2, memory_kib=16 * 1024)
    assert needs_rewrap(wrapped, stronger)
    upgraded = rewrap(wrapped, PASS, PASS, "counsellor-1", params=stronger)
    assert upgraded.params == stronger
    assert not needs_rewrap(upgraded, stronger)
    assert WrappedKey.from_bytes(upgraded.to_bytes()).params == stronger
    assert unlock_private_key(upgraded, PASS, "counsellor-1") == PRIVATE


def test_parameter_bounds():
    assert Argon2Params(time_cost=3, lanes=4, memory_kib=256 * 1024) == DEFAULT_ARGON2_PARAMS
    for bad in (
        {"time_cost": 0},
        {"lanes": 0},
        {"lanes": 17},
        {"memory_kib": 1024},
        {"memory_kib": 8 * 2**20},
    ):
        with pytest.raises(ValueError, match="out of range"):
            Argon2Params(**bad)


def test_empty_passphrase_and_id_are_refused():
    with pytest.raises(ValueError, match="passphrase"):
        protect_private_key(PRIVATE, Secret(""), "c", CHEAP)
    with pytest.raises(ValueError, match="counsellor_id"):
        protect_private_key(PRIVATE, PASS, "", CHEAP)


def test_default_parameters_with_a_real_hpke_key():
    keypair = generate_keypair()
    started = time.perf_counter()
    wrapped = protect_private_key(keypair.private, PASS, "counsellor-9")
    elapsed = time.perf_counter() - started
    assert wrapped.params == DEFAULT_ARGON2_PARAMS
    assert elapsed > 0.05  # 256 MiB of Argon2id is not free; guards against the parameters being ignored
    assert (
        unlock_private_key(WrappedKey.from_bytes(wrapped.to_bytes()), PASS, "counsellor-9") == keypair.private
    )


def test_key_derivation_matches_openssl_argon2id():
    params = Argon2Params(time_cost=2, lanes=2, memory_kib=16 * 1024)
    salt = bytes(range(16))
    expected = argon2id(PASS.reveal().encode(), salt, time_cost=2, memory_kib=16 * 1024, lanes=2)
    assert _derive(PASS, salt, params) == expected
    assert _derive(PASS, salt, CHEAP) != expected


def test_wrapped_format_is_stable():
    # Known answer with counter "randomness": a change here makes stored counsellor keys unreadable.
    wrapped = protect_private_key(PRIVATE, PASS, "counsellor-1", CHEAP, token_bytes=lambda n: bytes(range(n)))
    assert wrapped.to_bytes().hex() == (
        "01000000010000000100002000000102030405060708090a0b0c0d0e0f000102030405060708090a0b05cc2779fd4ed81e984f"
        "b11bb788cdfe3c1133d30e834637ae085f35c6045cc37123fef260afc3b86d1db072e761064cd39526dab1a839cdd9b9c07893"
        "4b4b832876dd1b5f183d7dd605844e087bce3a671c079bcbbbe0a3d641052c2f5cd16fffe660fbbf02490eeaeb9ec0ce53fcb2fa"
    )


def test_concurrent_unlocks_from_threads_complete():
    # A server unlocks keys in worker threads; multi-lane Argon2 must not deadlock when several run at once.
    params = Argon2Params(time_cost=1, lanes=4, memory_kib=16 * 1024)
    wrapped = protect_private_key(PRIVATE, PASS, "c", params)
    results: list[Secret[bytes]] = []

    def unlock() -> None:
        results.append(unlock_private_key(wrapped, PASS, "c"))

    threads = [threading.Thread(target=unlock, daemon=True) for _ in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "Argon2id derivation hung"
    assert results == [PRIVATE] * 6
