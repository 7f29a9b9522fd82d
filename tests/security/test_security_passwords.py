"""Console passwords (Argon2id) and TOTP (RFC 6238)."""

import base64
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from bot.security import (
    INSECURE_TEST_PASSWORD_POLICY,
    PasswordPolicy,
    Secret,
    hash_password,
    match_totp,
    new_totp_secret,
    password_needs_rehash,
    totp_code,
    totp_uri,
    verify_password,
    verify_totp,
)

CHEAP = INSECURE_TEST_PASSWORD_POLICY
RFC_SECRET = Secret(b"12345678901234567890")

# RFC 6238 appendix B, SHA-1: the 8-digit values, of which a 6-digit TOTP is the last six digits.
RFC_6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


def test_password_hash_and_verify():
    encoded = hash_password(Secret("Tr0ub4dor&3"), policy=CHEAP)
    assert encoded.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert "Tr0ub4dor&3" not in encoded
    assert verify_password(encoded, Secret("Tr0ub4dor&3"))
    assert not verify_password(encoded, Secret("Tr0ub4dor&4"))
    assert not verify_password("not a hash", Secret("Tr0ub4dor&3"))
    assert hash_password(Secret("x"), policy=CHEAP) != hash_password(Secret("x"), policy=CHEAP)


def test_password_unicode_normalisation():
    encoded = hash_password(Secret("wachtw\u00f6ord"), policy=CHEAP)
    assert verify_password(encoded, Secret("wachtwo\u0308ord"))


def test_needs_rehash():
    encoded = hash_password(Secret("pw"), policy=CHEAP)
    assert not password_needs_rehash(encoded, policy=CHEAP)
    assert password_needs_rehash(encoded)
    assert password_needs_rehash(
        encoded, policy=PasswordPolicy(time_cost=2, memory_kib=8 * 1024, parallelism=1)
    )
    assert password_needs_rehash("garbage")


def test_empty_password_refused():
    with pytest.raises(ValueError, match="password"):
        hash_password(Secret(""), policy=CHEAP)


@pytest.mark.parametrize(("now", "eight_digits"), RFC_6238_SHA1)
def test_totp_rfc6238_vectors(now, eight_digits):
    expected = eight_digits[-6:]
    assert totp_code(RFC_SECRET, now) == expected
    assert verify_totp(RFC_SECRET, expected, now)
    assert verify_totp(RFC_SECRET, expected, now, window=0)
    assert match_totp(RFC_SECRET, expected, now) == now // 30


def test_totp_window():
    now = 1111111111.0
    previous = totp_code(RFC_SECRET, now - 30)
    following = totp_code(RFC_SECRET, now + 30)
    too_old = totp_code(RFC_SECRET, now - 60)
    assert verify_totp(RFC_SECRET, previous, now)
    assert verify_totp(RFC_SECRET, following, now)
    assert not verify_totp(RFC_SECRET, previous, now, window=0)
    assert not verify_totp(RFC_SECRET, too_old, now)
    assert verify_totp(RFC_SECRET, too_old, now, window=2)
    assert match_totp(RFC_SECRET, previous, now) == int(now // 30) - 1


def test_totp_rejects_malformed_codes():
    now = 59
    assert verify_totp(RFC_SECRET, "287 082", now)
    for bad in ("", "28708", "2870822", "28708a", "２８７０８２", "287082\n", "-87082"):
        assert not verify_totp(RFC_SECRET, bad, now), bad
    assert not verify_totp(Secret(b"another-twenty-bytes"), "287082", now)


def test_new_totp_secret():
    secret = new_totp_secret()
    assert len(secret.reveal()) == 20
    assert secret != new_totp_secret()
    assert new_totp_secret(token_bytes=lambda n: b"\x01" * n).reveal() == b"\x01" * 20


def test_totp_uri():
    uri = totp_uri(RFC_SECRET, "anne@example.nl")
    assert isinstance(uri, Secret)
    parsed = urlparse(uri.reveal())
    assert parsed.scheme == "otpauth"
    assert parsed.netloc == "totp"
    assert unquote(parsed.path) == "/vipbot:anne@example.nl"
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    assert base64.b32decode(query["secret"]) == RFC_SECRET.reveal()
    assert query["issuer"] == "vipbot"
    assert query["digits"] == "6"
    assert query["period"] == "30"
    assert query["algorithm"] == "SHA1"
