"""Translation layer: every user-facing string goes through gettext.

Catalogues live in ``src/medconsult/translations/<locale>/LC_MESSAGES/messages.po`` (English is
the source language and needs none). The ``.po`` file is the only committed form: it is compiled
in memory the first time a locale is used in a process (a second or so for the whole catalogue),
so an installed copy never depends on a stale or missing ``.mo`` binary and never needs to write
next to its own code. ``scripts/i18n.sh`` extracts new messages, updates the catalogues and
prints their statistics; ``tests/web/test_i18n.py`` fails while any message is untranslated or
fuzzy or the catalogue is out of date with the sources.

The request's locale and time zone are context variables: the middleware sets them from the
language cookie or ``Accept-Language`` and the signed-in user's saved preferences override them
(``web.language``).
"""

from __future__ import annotations

import gettext as _gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DEFAULT_LOCALE = "en"
SUPPORTED_LOCALES: tuple[str, ...] = ("en", "zh_CN")
# What the language switcher shows: each language in its own words (never translated).
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "zh_CN": "简体中文"}
# Language tags (lower case) that mean a supported locale. Traditional Chinese (zh-TW, zh-HK,
# zh-Hant) is deliberately absent: a Simplified catalogue is not what those readers asked for.
_TAG_ALIASES: dict[str, str] = {
    "en": "en",
    "zh": "zh_CN",
    "zh-cn": "zh_CN",
    "zh-sg": "zh_CN",
    "zh-hans": "zh_CN",
    "zh-hans-cn": "zh_CN",
    "zh-hans-sg": "zh_CN",
    "zh_cn": "zh_CN",
}

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)
current_time_zone: ContextVar[str] = ContextVar("current_time_zone", default="UTC")


def catalogue_path(locale: str) -> Path:
    return TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=8)
def translations_for(locale: str) -> _gettext.NullTranslations:
    """The compiled catalogue for a locale (fuzzy entries left out), or English."""
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    po_file = catalogue_path(locale)
    if po_file.exists():
        with po_file.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        return Translations(fp=buffer)
    # A compiled .mo only (the tests build small ones): gettext's own loader.
    return Translations.load(str(TRANSLATIONS_DIR), [locale])


def supported_locale(value: str | None) -> str | None:
    """The supported locale a language tag or locale name stands for, or None."""
    if not value:
        return None
    if value in SUPPORTED_LOCALES:
        return value
    by_tag = {locale.lower().replace("_", "-"): locale for locale in SUPPORTED_LOCALES}
    tag = value.strip().lower().replace("_", "-")
    primary = tag.split("-")[0]
    # "zh-TW" must not fall back to "zh" (Simplified); other languages may drop their region.
    candidates = (tag,) if primary == "zh" else (tag, primary)
    for candidate in candidates:
        locale = _TAG_ALIASES.get(candidate) or by_tag.get(candidate)
        if locale in SUPPORTED_LOCALES:
            return locale
    return None


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
        locale = supported_locale(tag)
        if locale is not None:
            return locale
    return DEFAULT_LOCALE


def choose_locale(
    *, preference: str | None, cookie: str | None, accept_language: str | None
) -> str:
    """The request's locale: the user's saved preference, else the language cookie (a choice
    made with the switcher while signed out), else ``Accept-Language``, else English."""
    return (
        supported_locale(preference)
        or supported_locale(cookie)
        or negotiate_locale(accept_language)
    )


@contextmanager
def using_locale(locale: str | None) -> Iterator[None]:
    """Translate in ``locale`` (English if unsupported) inside the block: for text made outside
    a request, such as a notice e-mail the worker sends in its recipient's language."""
    token = current_locale.set(supported_locale(locale) or DEFAULT_LOCALE)
    try:
        yield
    finally:
        current_locale.reset(token)


def html_lang(locale: str) -> str:
    """The BCP 47 tag for ``<html lang>``: ``zh_CN`` -> ``zh-CN``."""
    return locale.replace("_", "-")


def gettext(message: str) -> str:
    if not message:  # gettext("") is the catalogue's header, never a user-facing text
        return message
    return translations_for(current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations_for(current_locale.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` translated in ``context``: one English word may need two translations
    ("Next" page of a list, 下一页; "Next" question of the interview, 下一题)."""
    return translations_for(current_locale.get()).pgettext(context, message)


def N_(message: str) -> str:
    """Mark a constant for extraction; it is translated where it is used, with _()."""
    return message


_ = gettext


# -- Formatting for the reader: their locale, their time zone ------------------------------------


def _zone() -> ZoneInfo:
    try:
        return ZoneInfo(current_time_zone.get())
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local(value: datetime) -> datetime:
    # Stored times are UTC (timestamptz); a naive value is taken to be UTC as well.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(_zone())


def format_dt(value: datetime | None) -> str:
    """A stored time, in the reader's time zone and locale, with the zone's abbreviation."""
    if value is None:
        return ""
    local = _local(value)
    locale = current_locale.get()
    # The locale's own date order ("Dec 2, 2026", "2026年12月2日"), then a 24-hour time.
    day = babel_dates.format_date(local, format="medium", locale=locale)
    shown = f"{day} {babel_dates.format_time(local, format='HH:mm', locale=locale)}"
    return f"{shown} {local.tzname() or ''}".strip()


def format_day(value: date | datetime | None) -> str:
    """A date (or the date of a stored time, in the reader's zone), for the locale."""
    if value is None:
        return ""
    day = _local(value).date() if isinstance(value, datetime) else value
    return babel_dates.format_date(day, format="medium", locale=current_locale.get())


def format_number(value: float | int | None, digits: int | None = None) -> str:
    """A number with the locale's separators (``digits``: fixed decimals)."""
    if value is None:
        return ""
    locale = current_locale.get()
    if digits is None:
        return babel_numbers.format_decimal(value, locale=locale)
    pattern = "#,##0." + "0" * digits if digits > 0 else "#,##0"
    return babel_numbers.format_decimal(value, format=pattern, locale=locale)


def format_percent(value: float | None, digits: int = 0) -> str:
    """A share (0.25) as the locale writes a percentage ("25%")."""
    if value is None:
        return "\u2013"  # an en dash: no figure
    pattern = "#,##0." + "0" * digits + "%" if digits > 0 else "#,##0%"
    return babel_numbers.format_percent(value, format=pattern, locale=current_locale.get())


# Pydantic's own messages are English; these are the ones the forms can produce, by error type.
_VALIDATION_MESSAGES: dict[str, str] = {
    "missing": N_("This field is required."),
    "string_too_short": N_("Please enter at least %(min_length)s characters."),
    "string_too_long": N_("Please keep this under %(max_length)s characters."),
    "too_short": N_("Please give at least %(min_length)s items."),
    "too_long": N_("Please give at most %(max_length)s items."),
    "date_parsing": N_("Please enter a valid date."),
    "date_from_datetime_parsing": N_("Please enter a valid date."),
    "date_type": N_("Please enter a valid date."),
    "datetime_parsing": N_("Please enter a valid date and time."),
    "datetime_from_date_parsing": N_("Please enter a valid date and time."),
    "int_parsing": N_("Please enter a whole number."),
    "int_type": N_("Please enter a whole number."),
    "float_parsing": N_("Please enter a number."),
    "bool_parsing": N_("Please choose yes or no."),
    "enum": N_("Please choose one of the options."),
    "literal_error": N_("Please choose one of the options."),
    "uuid_parsing": N_("This is not a valid identifier."),
    "greater_than_equal": N_("Please enter %(ge)s or more."),
    "less_than_equal": N_("Please enter %(le)s or less."),
    "string_pattern_mismatch": N_("Please check the format of this field."),
}


def validation_message(error: Any) -> str:
    """One Pydantic error as a translated sentence for a form or an API answer.

    ``value_error`` messages come from the project's own validators, already translated when
    they were raised; other types use the table above, else Pydantic's English text."""
    kind = str(error.get("type", ""))
    if kind in _VALIDATION_MESSAGES:
        context = dict(error.get("ctx") or {})
        try:
            return gettext(_VALIDATION_MESSAGES[kind]) % context
        except (KeyError, TypeError, ValueError):
            return gettext(_VALIDATION_MESSAGES[kind]).split("%(")[0].strip()
    if kind == "value_error" and "not a valid email address" in str(error.get("msg", "")):
        return gettext("Please enter a valid email address.")
    return str(error.get("msg", "")).removeprefix("Value error, ")
