"""Portal forms of the central operator's back office for market entry.

Each action form validates with the API's own schema (``schemas_backoffice``), so the portal and
the API accept exactly the same input.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms

from flexreg.accounts.forms import GovukForm, text
from flexreg.entry import schemas_backoffice as schemas
from flexreg.entry import selectors_backoffice as selectors


def _choice(label: str, choices: list[tuple[str, str]], blank: str) -> forms.ChoiceField:
    field = forms.ChoiceField(
        label=label, choices=choices, required=False, error_messages={"invalid_choice": blank}
    )
    field.blank_message = blank  # type: ignore[attr-defined]
    return field


def _reason(label: str, hint: str = "") -> forms.CharField:
    field = forms.CharField(label=label, required=False, help_text=hint, max_length=4000)
    field.blank_message = "Enter the reason"  # type: ignore[attr-defined]
    return field


def review_prefix(answer: Any) -> str:
    """The prefix of an answer's review form (several sit on one case page)."""
    return f"review-{answer.public_id.hex[:12]}"


class _Form(GovukForm):
    """A GOV.UK form whose error summary links to prefixed field ids."""

    def error_summary(self) -> list[dict[str, str]]:
        if not self.is_bound:
            return []
        return [
            {"href": f"#{self[name].id_for_label}", "text": str(self.errors[name][0])}
            for name in self.fields
            if self.errors.get(name)
        ]


# --- filters (GET) ---------------------------------------------------------------------------


class QueueFilterForm(forms.Form):
    """The queues' filters. Unknown values are ignored rather than refused."""

    role = forms.ChoiceField(
        label="Role", required=False, choices=[("", "Any role"), *selectors.ROLE_CHOICES]
    )
    kind = forms.ChoiceField(
        label="Kind of participant",
        required=False,
        choices=[("", "Any kind"), *selectors.KIND_CHOICES],
    )
    assigned = forms.ChoiceField(label="Assigned to", required=False, choices=[])
    overdue = forms.BooleanField(label="Only those past the service level", required=False)
    q = forms.CharField(label="Participant name or ID", required=False, max_length=200)
    status = forms.ChoiceField(label="Case status", required=False, choices=[])

    def __init__(self, *args: Any, reviewers: list[Any], with_status: bool = False, **kw: Any):
        kw.setdefault("auto_id", "filter-%s")
        super().__init__(*args, **kw)
        self._choices("assigned").choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("unassigned", "Nobody"),
            *[(u.email, u.full_name or u.email) for u in reviewers],
        ]
        if with_status:
            self._choices("status").choices = [
                ("", "Any status"),
                *[(s, label) for s, label in selectors.CASE_STATUS_CHOICES],
            ]
            del self.fields["overdue"]
        else:
            del self.fields["status"]

    def _choices(self, name: str) -> forms.ChoiceField:
        return cast(forms.ChoiceField, self.fields[name])

    def _valid(self) -> dict[str, Any]:
        """The fields that are valid (an unknown value in one filter drops that filter only)."""
        self.is_valid()
        return dict(self.cleaned_data)

    def filters(self) -> selectors.Filters:
        data = self._valid()
        return selectors.Filters(
            role=data.get("role") or "",
            kind=data.get("kind") or "",
            assigned=data.get("assigned") or "",
            overdue=bool(data.get("overdue")),
            q=(data.get("q") or "").strip(),
            status=data.get("status") or "",
        )

    def query(self, **extra: str) -> str:
        """The filters as a query string (for page links), plus ``extra``."""
        from urllib.parse import urlencode

        data = self._valid()
        pairs = {k: v for k, v in data.items() if v not in ("", None, False)}
        if pairs.get("overdue"):
            pairs["overdue"] = "1"
        pairs.update({k: v for k, v in extra.items() if v})
        return urlencode(pairs)


# --- actions (POST) --------------------------------------------------------------------------


class DecisionForm(_Form):
    decision = _choice(
        "Your decision",
        [("qualify", "Qualify the role"), ("reject", "Reject the application")],
        "Select qualify or reject",
    )
    reason = _reason(
        "Reason for your decision", "Recorded in the audit log and shown to the participant."
    )
    paths = {"decision": ("decision",), "reason": ("reason",)}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "decision")
        super().__init__(*args, **kwargs)
        self.checked: schemas.DecisionIn | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.checked = self.validate_schema(
            schemas.DecisionIn,
            {"decision": data.get("decision") or "", "reason": data.get("reason") or ""},
        )
        return data


class ReviewForm(_Form):
    decision = _choice(
        "Your review",
        [("accept", "Accept"), ("reject", "Reject: ask for it again")],
        "Select accept or reject",
    )
    reason = _reason("Reason", "Needed to reject: shown to the participant with the request.")
    paths = {"decision": ("decision",), "reason": ("reason",)}
    code_fields = {"entry.reason": "reason", "entry.document": "decision"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked: schemas.AnswerReviewIn | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.checked = self.validate_schema(
            schemas.AnswerReviewIn,
            {"decision": data.get("decision") or "", "reason": data.get("reason") or ""},
        )
        if self.checked and self.checked.decision == "reject" and not self.checked.reason:
            self.add_error("reason", "Enter the reason for rejecting this answer")
            self.checked = None
        return data


class AssignForm(_Form):
    assignee = _choice("Reviewer", [], "Select a reviewer")

    def __init__(self, *args: Any, reviewers: list[Any], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "assign")
        super().__init__(*args, **kwargs)
        self._choices("assignee").choices = [
            ("unassigned", "Nobody (unassign)"),
            *[(u.email, u.full_name or u.email) for u in reviewers],
        ]

    def _choices(self, name: str) -> forms.ChoiceField:
        return cast(forms.ChoiceField, self.fields[name])


class CancelForm(_Form):
    reason = _reason(
        "Why are you cancelling this request?",
        "Recorded in the audit log; the participant no longer sees the request.",
    )
    paths = {"reason": ("reason",)}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked: schemas.CancelIn | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.checked = self.validate_schema(schemas.CancelIn, {"reason": data.get("reason") or ""})
        return data


class AdHocRequestForm(_Form):
    title = text(
        "What do you need?",
        "Enter what you need",
        hint="For example, 'Upload your latest accounts'.",
    )
    why = _reason("Why do you need it?", "Shown to the participant with the request.")
    kind = _choice(
        "How should they answer?",
        [("document", "Upload a document"), ("text", "Write a text answer")],
        "Select how they should answer",
    )
    due_days = text(
        "Days to answer",
        "Enter the number of days to answer",
        hint="Leave empty for no due date.",
        width="govuk-input--width-3",
        inputmode="numeric",
    )
    paths = {
        "title": ("title",),
        "why": ("why",),
        "kind": ("kind",),
        "due_days": ("due_days",),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["why"].blank_message = "Enter why you need it"  # type: ignore[attr-defined]
        self.checked: schemas.AdHocRequestIn | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw_days = (data.get("due_days") or "").strip()
        if raw_days and not raw_days.isdigit():
            self.add_error("due_days", "Days to answer must be a whole number, like 10")
            return data
        if raw_days and not 1 <= int(raw_days) <= 365:
            self.add_error("due_days", "Days to answer must be between 1 and 365")
            return data
        self.checked = self.validate_schema(
            schemas.AdHocRequestIn,
            {
                "title": data.get("title") or "",
                "why": data.get("why") or "",
                "kind": data.get("kind") or "",
                "due_days": int(raw_days) if raw_days else None,
            },
        )
        return data
