"""Web Push for the portal's reply notice: the service's VAPID key and the encrypted message (RFC 8291/8292).

The VAPID key pair (ECDSA P-256) is derived from the service's secret, so every replica signs with the same key
and nothing more has to be configured or stored; the browser subscribes with its public half. The message body
is encrypted to the browser's subscription keys (aes128gcm) by `pywebpush`, so the push service carries only
ciphertext — and the plaintext itself says nothing: it is a fixed, content-free marker.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid02
from pywebpush import WebPusher

from bot.security.secret import Secret
from bot.security.secretbox import derive_key

VAPID_PURPOSE = "portal/vapid"
_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
VAPID_LIFETIME_S = 12 * 3600


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """What a browser's `PushManager.subscribe()` gives: the push service's URL and the browser's keys."""

    endpoint: str = field(repr=False)
    p256dh: str = field(repr=False)
    auth: str = field(repr=False)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _vapid_private(master: Secret[bytes]) -> ec.EllipticCurvePrivateKey:
    seed = int.from_bytes(derive_key(master, VAPID_PURPOSE, 48).reveal(), "big")
    return ec.derive_private_key(seed % (_P256_ORDER - 1) + 1, ec.SECP256R1())


def application_server_key(master: Secret[bytes]) -> str:
    """The VAPID public key as the browser's `applicationServerKey` wants it (uncompressed point, base64url)."""
    point = _vapid_private(master).public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return _b64url(point)


def push_request(
    master: Secret[bytes], subscription: PushSubscription, payload: bytes, contact: str, now: datetime
) -> tuple[bytes, dict[str, str]]:
    """The encrypted body and the headers (VAPID authorisation included) of one push message."""
    encoded = WebPusher(
        {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
    ).encode(payload, content_encoding="aes128gcm")
    parts = urlsplit(subscription.endpoint)
    claims = {
        "aud": f"{parts.scheme}://{parts.netloc}",
        "sub": contact,
        "exp": int(now.timestamp()) + VAPID_LIFETIME_S,
    }
    vapid = Vapid02(private_key=_vapid_private(master))
    headers = {str(k): str(v) for k, v in vapid.sign(claims).items()}
    headers |= {"Content-Encoding": "aes128gcm", "TTL": "86400", "Urgency": "normal"}
    return bytes(encoded["body"]), headers
