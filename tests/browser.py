"""What the real-browser tests share."""

from __future__ import annotations

from typing import Any

from tests.factories import DEFAULT_PASSWORD


def sign_in(page: Any, email: str) -> None:
    """Sign in through the login form and wait until the app has taken the page elsewhere."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)
