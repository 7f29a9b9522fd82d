"""Figures for the crypto in `bot.security`. Run by hand: python bench/bench_crypto.py

Prints per-message cost of HPKE seal+open (ML-KEM-768+X25519 / HKDF-SHA256 / ChaCha20-Poly1305) for a 4 KB
message next to raw ChaCha20-Poly1305 on the same bytes, the ciphertext overhead, and the Argon2id unlock time
with the default parameters.
"""

from __future__ import annotations

import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from bot.security import (
    DEFAULT_ARGON2_PARAMS,
    Context,
    Direction,
    Secret,
    generate_keypair,
    load_opening_key,
    open_sealed,
    protect_private_key,
    seal,
    unlock_private_key,
)
from bot.security.counsellor_keys import WrappedKey
from bot.security.secretbox import SecretBox

MESSAGE = secrets.token_bytes(4096)
ITERATIONS = 2000


def timed(action: Callable[[], object], iterations: int) -> list[float]:
    """Microseconds per call."""
    samples = []
    for _ in range(iterations):
        started = time.perf_counter_ns()
        action()
        samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def report(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"  {label:<48} median {statistics.median(ordered):9.1f} µs   p99 {p99:9.1f} µs")


def main() -> None:
    keypair = generate_keypair()
    context = Context.message("conv-bench", Direction.EMPLOYEE, 1)
    opener = load_opening_key(keypair.private)
    sealed = seal(keypair.public, MESSAGE, context=context)
    if open_sealed(keypair.private, sealed, context=context) != MESSAGE:
        raise SystemExit("round trip failed")

    aead = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
    box = SecretBox(Secret(secrets.token_bytes(32)), "bench")

    def hpke_round() -> None:
        opener.open(seal(keypair.public, MESSAGE, context=context), context=context)

    def hpke_round_cold() -> None:
        open_sealed(keypair.private, seal(keypair.public, MESSAGE, context=context), context=context)

    def raw_round() -> None:
        nonce = secrets.token_bytes(12)
        aead.decrypt(nonce, aead.encrypt(nonce, MESSAGE, b"ad"), b"ad")

    def box_round() -> None:
        box.decrypt(box.encrypt(MESSAGE))

    for action in (hpke_round, raw_round):  # warm up
        timed(action, 50)

    print(f"Per message, 4 KB plaintext, {ITERATIONS} iterations")
    report("HPKE seal + open (opening key parsed once)", timed(hpke_round, ITERATIONS))
    report("HPKE seal + open (private key parsed per call)", timed(hpke_round_cold, ITERATIONS))
    report("HPKE seal only", timed(lambda: seal(keypair.public, MESSAGE, context=context), ITERATIONS))
    report(
        "HPKE open only (opening key parsed once)",
        timed(lambda: opener.open(sealed, context=context), ITERATIONS),
    )
    report("raw ChaCha20-Poly1305 encrypt + decrypt", timed(raw_round, ITERATIONS))
    report("SecretBox encrypt + decrypt", timed(box_round, ITERATIONS))

    print("Sizes")
    print(f"  public key {len(keypair.public)} B, private key {len(keypair.private.reveal())} B")
    print(f"  HPKE ciphertext overhead {len(sealed) - len(MESSAGE)} B per message")
    print(f"  raw ChaCha20-Poly1305 overhead {12 + 16} B (nonce + tag), SecretBox {len(box.encrypt(b''))} B")

    passphrase = Secret("bench passphrase")
    wrapped = protect_private_key(keypair.private, passphrase, "c-bench", DEFAULT_ARGON2_PARAMS)
    print(f"  wrapped counsellor key {len(wrapped.to_bytes())} B")
    stored = WrappedKey.from_bytes(wrapped.to_bytes())
    unlocks = [
        timed(lambda: unlock_private_key(stored, passphrase, "c-bench"), 1)[0] / 1000 for _ in range(5)
    ]
    p = DEFAULT_ARGON2_PARAMS
    print(f"Argon2id unlock (t={p.time_cost}, lanes={p.lanes}, {p.memory_kib // 1024} MiB), 5 runs")
    print(
        f"  median {statistics.median(unlocks):.0f} ms  min {min(unlocks):.0f} ms  max {max(unlocks):.0f} ms"
    )


if __name__ == "__main__":
    main()
