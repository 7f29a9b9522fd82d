"""Independent reference constructions (standard library, OpenSSL's Argon2id) to check the derivations against.

They pin the storage formats too: a change in a label or a derivation makes stored data unreadable, and these
checks fail first.
"""

import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def hkdf_sha256(ikm: bytes, *, salt: bytes | None, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 with SHA-256."""
    prk = hmac_sha256(salt if salt is not None else bytes(32), ikm)
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac_sha256(prk, block + info + bytes([counter]))
        out += block
        counter += 1
    return out[:length]


def frame(*fields: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(f)) + f for f in fields)


def argon2id(secret: bytes, salt: bytes, *, time_cost: int, memory_kib: int, lanes: int) -> bytes:
    """OpenSSL's implementation (the package uses libargon2). Call it from one thread at a time: see
    `bot.security.counsellor_keys._derive`."""
    return Argon2id(salt=salt, length=32, iterations=time_cost, lanes=lanes, memory_cost=memory_kib).derive(
        secret
    )
