"""Language and time zone: the request's choice, the switcher and the preferences page.

The locale is the signed-in user's saved preference, else the language cookie (set by the
switcher, also for people who are not signed in), else ``Accept-Language``, else English. Times
are stored in UTC and shown in the user's time zone (else ``MEDCONSULT_DEFAULT_TIME_ZONE``).
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from medconsult import i18n
from medconsult.accounts import service as accounts_service
from medconsult.auth import OptionalUser, SignedInUser, set_private_cookie
from medconsult.config import get_settings
from medconsult.db import SessionDep
from medconsult.errors import ValidationFailed
from medconsult.web.templating import redirect, redirect_to, render

router = APIRouter(include_in_schema=False)

LANGUAGE_COOKIE = "medconsult_lang"
_ONE_YEAR = 365 * 24 * 3600

Choice = Annotated[str, Field(max_length=64)]


class LanguageForm(BaseModel):
    """The switcher as posted: the language chosen and the page to go back to."""

    locale: Choice = ""
    next: Annotated[str, Field(max_length=1024)] = "/"


class PreferencesForm(BaseModel):
    """The preferences page as posted; empty means "not set"."""

    locale: Choice = ""
    time_zone: Choice = ""


def request_locale(request: Request, preference: str | None = None) -> str:
    """The locale for this request (see the module docstring for the order)."""
    return i18n.choose_locale(
        preference=preference,
        cookie=request.cookies.get(LANGUAGE_COOKIE),
        accept_language=request.headers.get("accept-language"),
    )


async def apply_preferences(request: Request, user: OptionalUser) -> None:
    """Set the request's locale and time zone from the signed-in user's preferences.

    An ``async`` dependency on purpose: it runs in the request's own context, so the values it
    sets are what the route, its templates and the error handlers read (a sync dependency runs
    in a worker thread on a copy of the context, and its changes would be lost)."""
    preference = user.locale if user is not None else None
    i18n.current_locale.set(request_locale(request, preference))
    zone = (user.time_zone if user is not None else None) or get_settings().default_time_zone
    i18n.current_time_zone.set(zone)


def _same_site_path(target: str) -> str:
    # Only a relative path of this site: never an open redirect.
    if not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "") or "/"


def _set_language_cookie(response: Response, locale: str) -> None:
    set_private_cookie(response, LANGUAGE_COOKIE, locale, get_settings(), max_age=_ONE_YEAR)


@router.post("/language", name="language:switch")
def switch_language(
    request: Request, session: SessionDep, user: OptionalUser, form: Annotated[LanguageForm, Form()]
) -> Response:
    """The switcher on every page: a cookie for everyone, and the saved preference of a
    signed-in user (so it follows them to another browser)."""
    chosen = i18n.supported_locale(form.locale)
    if chosen is None:
        raise ValidationFailed(
            {"locale": i18n.gettext("Please choose one of the languages offered.")}
        )
    if user is not None:
        accounts_service.update_preferences(
            session, user=user, locale=chosen, time_zone=user.time_zone
        )
    response = redirect(request, _same_site_path(form.next))
    _set_language_cookie(response, chosen)
    return response


def _time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


@router.get("/account/preferences", name="accounts:preferences")
def preferences_page(request: Request, user: SignedInUser, saved: bool = False) -> Response:
    values = {"locale": user.locale or "", "time_zone": user.time_zone or ""}
    return _preferences(request, values, {}, saved=saved)


def _preferences(
    request: Request,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "accounts/preferences.html",
        {
            "values": values,
            "errors": errors,
            "saved": saved,
            "languages": i18n.LANGUAGE_NAMES,
            "time_zones": _time_zones(),
            "default_time_zone": get_settings().default_time_zone,
        },
        status_code=status_code,
    )


@router.post("/account/preferences")
def save_preferences(
    request: Request,
    session: SessionDep,
    user: SignedInUser,
    form: Annotated[PreferencesForm, Form()],
) -> Response:
    locale = form.locale
    try:
        accounts_service.update_preferences(
            session, user=user, locale=locale or None, time_zone=form.time_zone or None
        )
    except ValidationFailed as exc:
        return _preferences(request, form.model_dump(), exc.errors, status_code=422)
    response = redirect_to(request, "accounts:preferences", query={"saved": "1"})
    if locale:
        _set_language_cookie(response, locale)
    else:
        response.delete_cookie(LANGUAGE_COOKIE, path="/")
    return response
