"""Recognise a file by its first bytes (never by its name) and strip what it says about its maker.

- Images (PNG, JPEG): decoded and re-encoded by Pillow from their pixels alone, so EXIF (GPS position, camera,
  time), XMP, ICC profiles and text chunks are gone. A JPEG's orientation is applied to the pixels first.
- PDFs: pages copied into a new document by pypdf, without the document information (author, creator, dates)
  or the XMP metadata stream; a PDF that will not open is refused.
Anything else is refused. Nothing here fetches anything: a file never causes a request to elsewhere.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from pypdf.generic import DictionaryObject, NameObject

MAX_PIXELS = 40_000_000  # a 1 MB image that unpacks to gigabytes (a decompression bomb) is refused


class FileProblem(StrEnum):
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    KIND = "kind"  # not a PDF, PNG or JPEG
    DAMAGED = "damaged"


class FileRefusedError(Exception):
    def __init__(self, problem: FileProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class CleanFile:
    media_type: str
    data: bytes
    extension: str


_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


def sniff(data: bytes) -> str | None:
    """The media type the bytes themselves announce, or None."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    return None


def clean(data: bytes, max_bytes: int) -> CleanFile:
    """The file without its metadata, or `FileRefusedError`."""
    if not data:
        raise FileRefusedError(FileProblem.EMPTY)
    if len(data) > max_bytes:
        raise FileRefusedError(FileProblem.TOO_LARGE)
    media_type = sniff(data)
    if media_type is None:
        raise FileRefusedError(FileProblem.KIND)
    cleaned = _clean_pdf(data) if media_type == "application/pdf" else _clean_image(data, media_type)
    if len(cleaned) > max_bytes:
        raise FileRefusedError(FileProblem.TOO_LARGE)
    return CleanFile(media_type, cleaned, EXTENSIONS[media_type])


def _clean_image(data: bytes, media_type: str) -> bytes:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as opened:
                if opened.width * opened.height > MAX_PIXELS:
                    raise FileRefusedError(FileProblem.TOO_LARGE)
                upright = ImageOps.exif_transpose(opened)
                mode = "RGBA" if upright.mode in {"RGBA", "LA", "P", "PA"} else "RGB"
                pixels = upright.convert(mode)
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise FileRefusedError(FileProblem.DAMAGED) from None
    # A new image from the pixels alone: no info dictionary, no EXIF, no ICC profile travels along.
    bare = Image.new(pixels.mode, pixels.size)
    bare.paste(pixels)
    out = io.BytesIO()
    if media_type == "image/jpeg":
        bare.convert("RGB").save(out, format="JPEG", quality=90)
    else:
        bare.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _clean_pdf(data: bytes) -> bytes:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise FileRefusedError(FileProblem.DAMAGED)
        writer = PdfWriter()
        for page in reader.pages:
            writer.add_page(page)
        root = writer._root_object  # the catalog: an XMP stream may have come along with the pages
        root.pop(NameObject("/Metadata"), None)
        for page in writer.pages:
            page.pop(NameObject("/Metadata"), None)
            page.pop(NameObject("/PieceInfo"), None)
        info = writer._info  # pypdf starts one with a Producer line: keep the information dictionary empty
        fields = info.get_object() if info is not None else None
        if isinstance(fields, DictionaryObject):
            fields.clear()
        out = io.BytesIO()
        writer.write(out)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError):
        raise FileRefusedError(FileProblem.DAMAGED) from None
    return out.getvalue()
