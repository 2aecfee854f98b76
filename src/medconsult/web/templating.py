"""The one Jinja2 templates object, with i18n, CSRF and formatting helpers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.routing import NoMatchFound

from medconsult import i18n
from medconsult.auth import csrf_token, current_viewer
from medconsult.config import get_settings
from medconsult.i18n import N_

TEMPLATES_DIR = Path(__file__).resolve().parents[3] / "templates"
STATIC_DIR = Path(__file__).resolve().parents[3] / "static"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=True,  # patient text is untrusted: never disable, never |safe it
    extensions=["jinja2.ext.i18n"],
)
templates = Jinja2Templates(env=_env)
templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext
)


# Dates, times and numbers for the reader's locale and time zone (stored times are UTC).
templates.env.filters["dt"] = i18n.format_dt
templates.env.filters["day"] = i18n.format_day
templates.env.filters["number"] = i18n.format_number
templates.env.filters["percent"] = i18n.format_percent
templates.env.globals["settings"] = get_settings
templates.env.globals["current_locale"] = i18n.current_locale.get
templates.env.globals["html_lang"] = i18n.html_lang
templates.env.globals["language_names"] = i18n.LANGUAGE_NAMES


def _abstain_reasons(suggestion: Any) -> tuple[str, ...]:
    from medconsult.diagnosis.service import abstain_reason_labels

    return abstain_reason_labels(suggestion)


templates.env.globals["abstain_reasons"] = _abstain_reasons


# Enum values that templates translate as they are (``_(user.role.value)``,
# ``_(sex.value|capitalize)``): marked here so that extraction finds them.
ENUM_MESSAGES = (
    *(N_("patient"), N_("doctor"), N_("admin")),
    *(N_("success"), N_("failure"), N_("denied")),
    *(N_("female"), N_("male"), N_("other"), N_("unknown")),
    *(N_("Female"), N_("Male"), N_("Other"), N_("Unknown")),
)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "csrf_token": csrf_token(request),
        "current_user": current_viewer(request),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def url_path(
    request: Request,
    name: str,
    /,
    *,
    query: Mapping[str, Any] | None = None,
    fragment: str = "",
    **path_params: Any,
) -> str:
    """The path of a named route (``request.url_for``), with a query string and a fragment."""
    url = str(request.url_for(name, **path_params).path)
    if query:
        url += "?" + urlencode(query, safe="/", quote_via=quote)
    return url + (f"#{fragment}" if fragment else "")


def redirect_to(request: Request, name: str, /, **url: Any) -> Response:
    """Post/redirect/get to a named route (``url``: as for ``url_path``), htmx-aware."""
    return redirect(request, url_path(request, name, **url))


def redirect(request: Request, url: str) -> Response:
    """Post/redirect/get, htmx-aware."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@jinja2.pass_context
def _url_path(context: Any, name: str, /, **url: Any) -> str:
    return url_path(context["request"], name, **url)


# Templates link with url_path("consultations:detail", consultation_id=...): a relative path.
templates.env.globals["url_path"] = _url_path


@jinja2.pass_context
def _optional_url(context: Any, name: str, /, **url: Any) -> str | None:
    """Like ``url_path``, or None where the app has no such route (a feature another part of
    the product may or may not provide, such as the structured interview)."""
    try:
        return url_path(context["request"], name, **url)
    except NoMatchFound:
        return None


templates.env.globals["optional_url"] = _optional_url
