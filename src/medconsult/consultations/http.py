"""Request helpers shared by the consultation pages and the consultations API."""

from __future__ import annotations

from fastapi import UploadFile

from medconsult.config import get_settings
from medconsult.consultations import files as report_files


def read_uploads(uploads: list[UploadFile] | None) -> list[report_files.UploadedFile]:
    """The files the browser really sent (an empty file input sends one nameless empty part)."""
    limit = get_settings().max_file_bytes
    received = []
    for upload in uploads or []:
        # One byte past the limit is enough to know the file is too large.
        data = upload.file.read(limit + 1)
        if not upload.filename and not data:
            continue
        received.append(report_files.UploadedFile(filename=upload.filename or "", data=data))
    return received
