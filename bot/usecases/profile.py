"""The counsellor's profile: the photo and introduction Slack Home and the Teams welcome card show.

A photo is re-encoded, never stored as uploaded: decoded by Pillow (refusing anything but JPEG, PNG and WebP,
and anything larger than `MAX_PIXELS` before decoding), turned upright, cropped to a square, shrunk to `SIZE`
and written as a fresh JPEG. The new file carries no EXIF, GPS, XMP or ICC data of the original — a phone photo
otherwise tells where and when it was taken.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.errors import VipbotError
from bot.storage.practice import SqlPracticeStore

# The service takes request bodies up to 1 MiB (`build_app`): the photo fits inside one, with the form around it.
MAX_UPLOAD_BYTES = 1_000_000
MAX_PIXELS = 40_000_000  # width × height of the upload, checked from the header before decoding
SIZE = 512
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
MAX_INTRO = 1000
PHOTO_PATH = "/photos/"


class ProfileProblem(StrEnum):
    """`console.profile.problem.<code>` says it in words."""

    PHOTO_TOO_LARGE = "photo_too_large"
    PHOTO_TYPE = "photo_type"
    PHOTO_UNREADABLE = "photo_unreadable"
    INTRO_TOO_LONG = "intro_too_long"


class ProfileError(VipbotError):
    def __init__(self, code: ProfileProblem) -> None:
        super().__init__(f"profile: {code.value}")
        self.code = code


@dataclass(frozen=True, slots=True)
class Photo:
    image: bytes
    content_type: str


def process_photo(upload: bytes) -> Photo:
    """The upload as a square, metadata-free JPEG of SIZE×SIZE pixels; raises ProfileError."""
    if len(upload) > MAX_UPLOAD_BYTES:
        raise ProfileError(ProfileProblem.PHOTO_TOO_LARGE)
    try:
        with Image.open(io.BytesIO(upload), formats=sorted(ACCEPTED_FORMATS)) as original:
            if original.width * original.height > MAX_PIXELS:
                raise ProfileError(ProfileProblem.PHOTO_TOO_LARGE)
            original.load()
            upright = ImageOps.exif_transpose(original)
            square = ImageOps.fit(upright.convert("RGB"), (SIZE, SIZE), Image.Resampling.LANCZOS)
    except UnidentifiedImageError:
        raise ProfileError(ProfileProblem.PHOTO_TYPE) from None
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise ProfileError(ProfileProblem.PHOTO_UNREADABLE) from None
    clean = Image.new("RGB", square.size)  # a new image: nothing of the original's info dict comes along
    clean.paste(square)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return Photo(out.getvalue(), "image/jpeg")


def photo_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}{PHOTO_PATH}{token}.jpg"


async def set_photo(store: SqlPracticeStore, public_base_url: str, counsellor_id: UUID, upload: bytes) -> str:
    """Process and store the photo; returns its public address (also set as the counsellor's `photo_url`)."""
    import asyncio

    photo = await asyncio.to_thread(process_photo, upload)
    token = secrets.token_urlsafe(18)
    url = photo_url(public_base_url, token)
    await store.save_photo(counsellor_id, token, photo.content_type, photo.image, url)
    return url


async def set_introduction(
    store: SqlPracticeStore, counsellor_id: UUID, intro_nl: str, intro_en: str
) -> None:
    intro_nl, intro_en = intro_nl.strip(), intro_en.strip()
    if len(intro_nl) > MAX_INTRO or len(intro_en) > MAX_INTRO:
        raise ProfileError(ProfileProblem.INTRO_TOO_LONG)
    await store.set_introduction(counsellor_id, intro_nl, intro_en)
