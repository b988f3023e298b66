"""Form answers (market-entry steps and the asset rules' role details share them) refuse text
that cannot be stored or shown — control characters such as a NUL byte — and numbers that are
not finite."""

from __future__ import annotations

import pytest

from flexreg.entry import answers

STEP = {
    "fields": [
        {"name": "reference", "label": "Reference", "type": "text", "required": True},
        {"name": "notes", "label": "Notes", "type": "text", "required": False},
        {"name": "size", "label": "Size", "type": "number", "required": False},
    ]
}


@pytest.mark.parametrize("bad", ["SC\x00-1", "SC\x07-1", "SC\x1b[31m"])
def test_control_characters_are_refused(bad: str) -> None:
    _, errors = answers.clean_form(STEP, {"reference": bad})
    assert [(e.field, e.code) for e in errors] == [
        ("form_data.reference", "text.control_character")
    ]


def test_line_breaks_and_tabs_are_text() -> None:
    cleaned, errors = answers.clean_form(STEP, {"reference": "SC-1", "notes": "a\tb\nc"})
    assert errors == [] and cleaned["notes"] == "a\tb\nc"


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity", "1e999"])
def test_numbers_must_be_finite(bad: str) -> None:
    _, errors = answers.clean_form(STEP, {"reference": "SC-1", "size": bad})
    assert [(e.field, e.code) for e in errors] == [("form_data.size", "number.invalid")]


def test_a_text_answer_with_a_nul_is_refused() -> None:
    _, errors = answers.clean_text({}, "fine\x00not")
    assert [e.code for e in errors] == ["text.control_character"]
