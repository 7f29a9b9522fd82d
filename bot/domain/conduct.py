"""An organisation's own code of conduct: a link to where it lives, or a PDF the practice uploaded and vipbot
serves. Reminders and the front door (Slack's Home tab, the Teams welcome) link to it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PDF_MAX_BYTES = 1024 * 1024 - 64 * 1024  # under the service's 1 MiB request limit, with room for the form
CONDUCT_PATH = "/conduct/"


class ConductProblem(StrEnum):
    URL = "url"  # not an https:// address
    NOT_PDF = "not_pdf"
    TOO_LARGE = "too_large"
    EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class Conduct:
    url: str  # "" when a document is uploaded instead
    document_name: str  # "" when there is no document
    token: str

    def link(self, base_url: str) -> str | None:
        """Where a reader opens it: the uploaded document (served by vipbot) wins over a link."""
        if self.document_name:
            return f"{base_url.rstrip('/')}{CONDUCT_PATH}{self.token}.pdf"
        return self.url or None


def url_problem(url: str) -> ConductProblem | None:
    if not url.startswith("https://") or len(url) > 500 or any(c.isspace() for c in url):
        return ConductProblem.URL
    return None


def document_problem(data: bytes) -> ConductProblem | None:
    if not data:
        return ConductProblem.EMPTY
    if len(data) > PDF_MAX_BYTES:
        return ConductProblem.TOO_LARGE
    if not data.startswith(b"%PDF-"):
        return ConductProblem.NOT_PDF
    return None
