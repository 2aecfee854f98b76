"""The interview pages: plain forms that work with or without htmx, labelled questions, the
answers on the patient's and the doctor's pages."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medconsult.diagnosis import service as diagnosis_service
from tests import factories
from tests.consultations.samples import suggestion
from tests.interview.conftest import Cast


def _page_url(cast: Cast) -> str:
    return f"/consultations/{cast.consultation.id}/interview"


def _pending(html: str) -> tuple[str, list[str]]:
    """The question code in the form and its option values (the "don't know" one included)."""
    code = re.search(r'name="question" value="([^"]+)"', html)
    assert code is not None, html
    return code.group(1), re.findall(r'name="value" value="([^"]+)"', html)


def _start(client: TestClient, cast: Cast, token: str) -> None:
    response = client.post(_page_url(cast), data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303


class TestStart:
    def test_the_consultation_page_offers_the_questions(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        factories.login(client, session, cast.patient)

        page = client.get(f"/consultations/{cast.consultation.id}")

        assert page.status_code == 200
        assert "Start the questions" in page.text

    def test_starting_shows_one_labelled_question(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        token = factories.login(client, session, cast.patient)

        _start(client, cast, token)
        page = client.get(_page_url(cast))

        assert page.status_code == 200
        assert "<fieldset" in page.text
        assert "<legend>" in page.text
        inputs = re.findall(r'<input type="(?:radio|checkbox)" id="([^"]+)"', page.text)
        labels = set(re.findall(r'<label for="([^"]+)"', page.text))
        assert inputs
        assert set(inputs) <= labels
        assert "Don&#39;t know" in page.text or "Don't know" in page.text


class TestAnswer:
    @pytest.mark.parametrize("htmx", [False, True], ids=["plain form", "htmx"])
    def test_an_answer_moves_on(
        self, client: TestClient, session: Session, cast: Cast, htmx: bool
    ) -> None:
        token = factories.login(client, session, cast.patient)
        _start(client, cast, token)
        code, values = _pending(client.get(_page_url(cast)).text)

        response = client.post(
            f"{_page_url(cast)}/answer",
            data={"csrf_token": token, "question": code, "value": values[0]},
            headers={"HX-Request": "true"} if htmx else {},
            follow_redirects=False,
        )

        if htmx:
            assert response.status_code == 200
            assert response.text.lstrip().startswith(("{#", "<section"))
            assert "<html" not in response.text  # the panel only
            assert 'id="interview-panel"' in response.text
        else:
            assert response.status_code == 303
            response = client.get(_page_url(cast))
        assert "Answers" in response.text
        assert 'class="facts interview-answers"' in response.text

    def test_no_choice_is_refused_with_a_message(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        token = factories.login(client, session, cast.patient)
        _start(client, cast, token)
        code, _values = _pending(client.get(_page_url(cast)).text)

        response = client.post(
            f"{_page_url(cast)}/answer", data={"csrf_token": token, "question": code}
        )

        if "checkbox" in response.text:  # multiple choice: nothing ticked means "none"
            pytest.skip("the first question is multiple choice")
        assert response.status_code == 422
        assert 'role="alert"' in response.text
        assert "Please choose one answer" in response.text


def _one_answer_then_stop(client: TestClient, session: Session, cast: Cast) -> None:
    """The patient answers one question "don't know" and stops the interview."""
    token = factories.login(client, session, cast.patient)
    _start(client, cast, token)
    code, _values = _pending(client.get(_page_url(cast)).text)
    client.post(
        f"{_page_url(cast)}/answer",
        data={"csrf_token": token, "question": code, "value": "__unknown__"},
    )
    client.post(f"{_page_url(cast)}/finish", data={"csrf_token": token})


class TestDoctorReads:
    def test_the_case_page_lists_the_answers(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        _one_answer_then_stop(client, session, cast)
        client.cookies.clear()
        factories.login(client, session, cast.doctor)

        page = client.get(f"/doctor/consultations/{cast.consultation.id}")

        assert page.status_code == 200
        assert "Questions about the symptoms" in page.text
        assert "1 question answered." in page.text
        assert "The patient stopped the questions." in page.text
        assert "Don&#39;t know" in page.text
        assert "Leading conditions of the interview model" in page.text

    def test_the_case_page_shows_the_differential_with_codes_and_urgency(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        _one_answer_then_stop(client, session, cast)
        diagnosis_service.store_suggestion(
            session, consultation=cast.consultation, suggestion=suggestion(), analysed_text="x"
        )
        session.flush()
        client.cookies.clear()
        factories.login(client, session, cast.doctor)

        page = client.get(f"/doctor/consultations/{cast.consultation.id}")

        assert page.status_code == 200
        table = page.text[page.text.index('data-testid="full-differential"') :]
        table = table[: table.index("</table>")]
        assert "3 conditions the model keeps possible" in table
        rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>([^<]*)</td>", table)
        assert rows == [
            ("Pneumonia", "X00", "Urgent"),
            ("Common cold", "X00", "Self-care"),
            ("Bronchial asthma", "X00", "Routine"),
        ]
        assert "<td>0.700</td>" in table

    def test_a_probability_that_rounds_to_zero_reads_under_one_in_a_thousand(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        diagnosis_service.store_suggestion(
            session,
            consultation=cast.consultation,
            suggestion=suggestion(probabilities=(0.9996, 0.0003, 0.0001)),
            analysed_text="x",
        )
        session.flush()
        factories.login(client, session, cast.doctor)

        page = client.get(f"/doctor/consultations/{cast.consultation.id}")

        assert "<td>1.000</td>" in page.text
        assert page.text.count("<td>&lt;0.001</td>") == 2
        assert "<td>0.000</td>" not in page.text

    def test_a_free_text_case_shows_no_full_differential(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        diagnosis_service.store_suggestion(
            session, consultation=cast.consultation, suggestion=suggestion(), analysed_text="x"
        )
        session.flush()
        factories.login(client, session, cast.doctor)

        page = client.get(f"/doctor/consultations/{cast.consultation.id}")

        assert page.status_code == 200
        assert "Usual urgency" in page.text  # the ranked list's column
        assert 'data-testid="full-differential"' not in page.text


class TestStaleForm:
    def test_a_replayed_answer_shows_the_question_now_on_screen(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        token = factories.login(client, session, cast.patient)
        _start(client, cast, token)
        code, values = _pending(client.get(_page_url(cast)).text)
        form = {"csrf_token": token, "question": code, "value": values[0]}
        client.post(f"{_page_url(cast)}/answer", data=form)

        replay = client.post(f"{_page_url(cast)}/answer", data=form, follow_redirects=False)

        assert replay.status_code == 303
        assert replay.headers["location"] == _page_url(cast)
