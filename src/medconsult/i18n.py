"""Translation layer: every user-facing string goes through gettext (English only for now).

Adding a language means extracting messages with Babel (see babel.cfg), translating the
catalogue under ``src/medconsult/translations/<locale>/LC_MESSAGES/messages.po`` and compiling
it; templates and services stay untouched.
"""

from __future__ import annotations

import gettext as _gettext
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DEFAULT_LOCALE = "en"
SUPPORTED_LOCALES: tuple[str, ...] = ("en",)

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


@lru_cache(maxsize=8)
def translations_for(locale: str) -> _gettext.NullTranslations:
    if locale == DEFAULT_LOCALE or not TRANSLATIONS_DIR.exists():
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [locale])


def negotiate_locale(accept_language: str | None) -> str:
    """The best supported locale for an Accept-Language header (q-values respected)."""
    if not accept_language:
        return DEFAULT_LOCALE
    weighted = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if quality > 0:  # q=0 means "not acceptable"
            weighted.append((-quality, index, tag.strip().lower()))
    for _weight, _index, tag in sorted(weighted):
        for candidate in (tag, tag.split("-")[0]):
            if candidate in SUPPORTED_LOCALES:
                return candidate
    return DEFAULT_LOCALE


def gettext(message: str) -> str:
    return translations_for(current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations_for(current_locale.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a constant for extraction; it is translated where it is used, with _()."""
    return message


_ = gettext
