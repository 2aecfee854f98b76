"""Process logging: the app's own messages at INFO, others when they warn; text or JSON lines."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from medconsult.config import Settings


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers. Never patient text: the app logs ids only."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(settings: Settings, *, info_loggers: tuple[str, ...] = ("medconsult",)) -> None:
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in info_loggers:
        logging.getLogger(name).setLevel(logging.INFO)
