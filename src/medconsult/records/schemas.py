"""Records API schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ExportLinkRead(BaseModel):
    url: str
    expires_at: datetime
