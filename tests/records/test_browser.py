"""A patient in a real browser: download their data, then delete their account."""

from __future__ import annotations

import io
import json
import re
import secrets
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple 42"


class TestMyData:
    def test_download_then_delete(self, page: Any) -> None:
        email = f"records-{secrets.token_hex(6)}@example.org"
        page.goto("/register")
        page.get_by_label("Full name").fill("Rhea Records")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Repeat password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url(re.compile(r"/profile"))
        # The links to this page are checked in test_report.py (TestLinks).
        page.goto("/my-data")

        with page.expect_download() as info:
            page.get_by_role("button", name="Download my data").click()
        archive = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
        bundle = json.loads(archive.read("fhir/Patient-everything.json"))
        assert bundle["entry"][0]["resource"]["name"][0]["text"] == "Rhea Records"

        page.get_by_label("Confirm with your password").fill("not my password")
        page.get_by_role("button", name="Delete my account").click()
        page.get_by_text("Your password is incorrect. Nothing was deleted.").wait_for()

        page.get_by_label("Confirm with your password").fill(PASSWORD)
        page.get_by_role("button", name="Delete my account").click()
        page.get_by_role("heading", name="Your account has been deleted").wait_for()

        page.goto("/profile")
        page.wait_for_url(re.compile(r"/login"))
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("alert").wait_for()
        assert "/login" in page.url
