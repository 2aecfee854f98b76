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
SUPPORTED_LOCALES = ("en",)

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


@lru_cache(maxsize=8)
def translations_for(locale: str) -> _gettext.NullTranslations:
    if locale == DEFAULT_LOCALE or not TRANSLATIONS_DIR.exists():
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [locale])


def gettext(message: str) -> str:
    return translations_for(current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations_for(current_locale.get()).ngettext(singular, plural, n)


_ = gettext
