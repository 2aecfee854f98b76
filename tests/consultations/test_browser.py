"""A patient in a real browser: register, profile, consultation with a PDF, AI result, escaping.

The live server's in-process worker analyses the consultation with the tiny test model; the
consultation page polls (htmx) and reloads itself when the analysis is done.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest

from tests.consultations.samples import minimal_pdf

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple 42"


def _register_patient(page: Any) -> None:
    page.goto("/register")
    page.get_by_label("Full name").fill("Brenda Browser")
    page.get_by_label("Email").fill(f"patient-{secrets.token_hex(6)}@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/profile"))


def _fill_consultation(page: Any, *, history: str) -> None:
    page.goto("/consultations/new")
    page.get_by_label("What is the main problem?").fill("Chest pain")
    page.get_by_label("Describe your symptoms").fill(history)
    page.get_by_label("I agree that an AI system").check()


class TestPatientConsultationJourney:
    def test_register_profile_submit_pdf_and_see_preliminary_result(self, page: Any) -> None:
        _register_patient(page)
        page.get_by_label("Date of birth").fill("1980-04-02")
        page.get_by_label("Sex").select_option("female")
        page.get_by_label("Allergies").fill("Penicillin")
        page.get_by_role("button", name="Save profile").click()
        page.get_by_text("Profile saved.").wait_for()
        _fill_consultation(
            page,
            history="Crushing chest pain since this morning and shortness of breath, with fever.",
        )
        page.get_by_label("Reports (optional)").set_input_files(
            files=[
                {
                    "name": "blood-test.pdf",
                    "mimeType": "application/pdf",
                    "buffer": minimal_pdf("Troponin 0.9 ng/mL (raised)"),
                }
            ]
        )

        page.get_by_role("button", name="Submit consultation").click()

        page.wait_for_url(re.compile(r"/consultations/[0-9a-f-]{36}$"))
        page.get_by_text("Troponin 0.9 ng/mL (raised)").wait_for()
        # The red-flag advice is there at once, from the rules run when the case was stored.
        assert page.get_by_text("Seek emergency care now: call").is_visible()
        assert page.get_by_text("Chest pain that could be a heart attack").is_visible()
        # Then the analysis arrives. The tiny test model may abstain; then the patient is told
        # so and sees no diagnosis.
        page.locator("ol.suggestions li, #ai-abstained").first.wait_for(timeout=90_000)
        assert page.get_by_role("heading", name="Preliminary AI suggestions").is_visible()
        if page.locator("#ai-abstained").count():
            assert page.get_by_text("The AI could not suggest a diagnosis for this").is_visible()
            assert page.locator("ol.suggestions li").count() == 0
        else:
            assert page.locator("ol.suggestions li").count() == 3
            assert page.locator("ol.suggestions .band").first.inner_text() in {
                "Most likely",
                "Possible",
                "Less likely",
            }
        assert page.get_by_text("have not yet been reviewed by a doctor").is_visible()
        page.goto("/consultations")
        assert page.get_by_role("link", name="Chest pain").is_visible()


class TestTypedMarkupIsShownAsText:
    def test_script_tag_in_history_is_text(self, page: Any) -> None:
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        _register_patient(page)
        _fill_consultation(page, history="<script>alert('owned')</script> sore throat")

        page.get_by_role("button", name="Submit consultation").click()

        page.wait_for_url(re.compile(r"/consultations/[0-9a-f-]{36}$"))
        assert page.locator(".history-text").inner_text() == (
            "<script>alert('owned')</script> sore throat"
        )
        assert dialogs == []
