"""Report files: type by content (magic bytes), bounded sizes, random storage keys, text extraction.

A patient's filename is only ever shown back (escaped) and sent in Content-Disposition; it is
never part of a path on disk.
"""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from medconsult.config import Settings
from medconsult.errors import NotFound, ValidationFailed
from medconsult.i18n import _

log = logging.getLogger(__name__)

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
PLAIN_TEXT = "text/plain; charset=utf-8"
IMAGE_TYPES = frozenset({PNG, JPEG})
# A report's readable text is bounded like any other patient text; a huge PDF is not read
# past this many pages (a page-count bomb must not tie up a request).
MAX_PDF_PAGES = 50


@dataclass(frozen=True)
class UploadedFile:
    """One file as received: the name the browser sent and its bytes."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed every check, with its detected type and readable text."""

    original_name: str
    content_type: str
    data: bytes
    sha256: str
    extracted_text: str
    extraction_failed: bool


def detect_content_type(data: bytes) -> str | None:
    """The allowed type this content really is, from its leading bytes; None if not allowed."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if _is_plain_text(data):
        return PLAIN_TEXT
    return None


def _is_plain_text(data: bytes) -> bool:
    if not data or b"\x00" in data:
        return False
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    # Control characters other than whitespace mean a binary format that happens to decode.
    controls = sum(
        1 for char in decoded if unicodedata.category(char) == "Cc" and char not in "\n\r\t\f"
    )
    return controls == 0


def safe_display_name(filename: str) -> str:
    """A filename fit to show and to put in a header: no path, no control characters, bounded."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C").strip()
    return (name or "report")[:255]


def extract_text(content_type: str, data: bytes, *, max_chars: int) -> tuple[str, bool]:
    """The readable text of a report and whether reading it failed (images have none)."""
    if content_type == PLAIN_TEXT:
        return data.decode("utf-8")[:max_chars], False
    if content_type != PDF:
        return "", False
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            return "", True
        chunks: list[str] = []
        total = 0
        for page in reader.pages[:MAX_PDF_PAGES]:
            chunk = page.extract_text() or ""
            chunks.append(chunk)
            total += len(chunk)
            if total >= max_chars:
                break
    except Exception as exc:  # a damaged PDF raises many kinds of errors; keep it, flag it
        log.info("report PDF could not be read: %s", type(exc).__name__)
        return "", True
    text = "\n".join(chunks).replace("\x00", "").strip()
    return text[:max_chars], False


def check_files(files: list[UploadedFile], *, settings: Settings) -> list[CheckedFile]:
    """Check count, per-file size, total size and type by content; ValidationFailed if any fails."""
    if len(files) > settings.max_files_per_consultation:
        raise ValidationFailed(
            {
                "reports": _("You can attach at most %(count)d files.")
                % {"count": settings.max_files_per_consultation}
            }
        )
    total = sum(len(f.data) for f in files)
    if total > settings.max_consultation_bytes:
        raise ValidationFailed(
            {
                "reports": _("The files together are larger than %(mb)d MB.")
                % {"mb": settings.max_consultation_bytes // (1024 * 1024)}
            }
        )
    checked: list[CheckedFile] = []
    for upload in files:
        name = safe_display_name(upload.filename)
        if not upload.data:
            raise ValidationFailed({"reports": _("The file %(name)s is empty.") % {"name": name}})
        if len(upload.data) > settings.max_file_bytes:
            raise ValidationFailed(
                {
                    "reports": _("The file %(name)s is larger than %(mb)d MB.")
                    % {"name": name, "mb": settings.max_file_bytes // (1024 * 1024)}
                }
            )
        content_type = detect_content_type(upload.data)
        if content_type is None:
            raise ValidationFailed(
                {
                    "reports": _(
                        "The file %(name)s is not a PDF, a plain text file, a PNG or a JPEG image."
                    )
                    % {"name": name}
                }
            )
        text, failed = extract_text(content_type, upload.data, max_chars=settings.max_text_chars)
        checked.append(
            CheckedFile(
                original_name=name,
                content_type=content_type,
                data=upload.data,
                sha256=hashlib.sha256(upload.data).hexdigest(),
                extracted_text=text,
                extraction_failed=failed,
            )
        )
    return checked


def new_storage_key() -> str:
    return secrets.token_hex(16)


def _path_for(upload_dir: Path, storage_key: str) -> Path:
    # Keys are ours (hex), but check anyway: nothing outside the upload folder is ever read.
    if not storage_key.isalnum():
        raise NotFound(_("Report not found."))
    return upload_dir / storage_key[:2] / storage_key


def store_bytes(upload_dir: Path, storage_key: str, data: bytes) -> None:
    """Write a report under its random key (written to a temporary name, then renamed)."""
    path = _path_for(upload_dir, storage_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(path)


def stored_before(upload_dir: Path, cutoff: float) -> Iterator[tuple[str, Path]]:
    """(storage key, path) of every stored report last modified before ``cutoff`` (a Unix
    time); a partial write (``KEY.part``) is listed under its key, with its own path."""
    if not upload_dir.is_dir():
        return
    for folder in upload_dir.iterdir():
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            try:
                modified = path.stat().st_mtime
            except FileNotFoundError:  # removed meanwhile
                continue
            if path.is_file() and modified < cutoff and path.stem.isalnum():
                yield path.stem, path


def delete_stored(path: Path) -> None:
    path.unlink(missing_ok=True)


def read_bytes(upload_dir: Path, storage_key: str) -> bytes:
    path = _path_for(upload_dir, storage_key)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFound(_("The report file is no longer available.")) from None
