"""What the patient and the doctor read of the questionnaire, in the user's language.

Questions, answer values and condition names come from the DDXPlus questionnaire (English).
``text_for`` is the one place that picks the text for the current locale: a translation file
``i18n/<locale>.json`` of the form ``{"evidences": {"E_54": {"question": ..., "values":
{"V_161": ...}}}, "conditions": {"<English condition name>": ...}}`` is read if present, and
anything it lacks falls back to English. Interface words (yes, no, don't know) go through
gettext like every other string.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from medconsult import i18n
from medconsult.i18n import _

log = logging.getLogger(__name__)

I18N_DIR = Path(__file__).with_name("i18n")


@lru_cache(maxsize=8)
def _translations(locale: str) -> dict[str, Any]:
    """The questionnaire's translation for ``locale`` (``zh`` also finds ``zh_CN.json``)."""
    if locale == i18n.DEFAULT_LOCALE:
        return {}
    candidates = [locale, locale.replace("-", "_")]
    if "_" not in candidates[-1]:
        candidates += [path.stem for path in sorted(I18N_DIR.glob(f"{locale}_*.json"))]
    for name in candidates:
        path = I18N_DIR / f"{name}.json"
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                log.warning("unreadable questionnaire translation %s: %s", path.name, exc)
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def text_for(
    english: str,
    *,
    evidence: str | None = None,
    value: str | None = None,
    condition: str | None = None,
    locale: str | None = None,
) -> str:
    """The text to show for a question (``evidence``), one of its values (``evidence`` and
    ``value``) or a condition (``condition``, its English name) in ``locale`` (default: the
    request's), falling back to ``english``."""
    table = _translations(locale or i18n.current_locale.get())
    found: Any = None
    if condition is not None:
        found = table.get("conditions", {}).get(condition)
    elif evidence is not None:
        entry = table.get("evidences", {}).get(evidence, {})
        found = entry.get("values", {}).get(value) if value is not None else entry.get("question")
    return found if isinstance(found, str) and found.strip() else english


def yes_no(value: str) -> str:
    """The interface word for a yes/no answer."""
    return _("Yes") if value == "yes" else _("No")


def dont_know() -> str:
    return _("Don't know")
