"""The central operator's back-office writes: assignment to a reviewer and bulk actions.

Each item of a bulk action goes through the ordinary use case (``entry.services.review_answer``
or ``entry.services.assign``, which check the permission, lock, audit and notify) inside its own
savepoint, so a bad item is reported with its stable error code and rolled back alone while
the good ones go through. A call carries at most ``MAX_BULK`` items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from django.contrib.auth import get_user_model
from django.db import transaction

from flexreg.core import permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, FieldError, ValidationFailed
from flexreg.entry import rules, services
from flexreg.entry import selectors_backoffice as selectors
from flexreg.entry.models import EntryCase, InformationRequest
from flexreg.participants import selectors_recipients as recipients

MAX_BULK = 100
REVIEW = "entry:review"


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item of a bulk action: ok, or the error's stable code and message."""

    id: str
    kind: str  # answer | case | request
    ok: bool
    code: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Target:
    kind: Literal["case", "request"]
    id: str


def _bounded(items: Sequence[object], name: str) -> None:
    if not items:
        raise ValidationFailed([FieldError(name, "entry.bulk_empty", "Choose at least one item.")])
    if len(items) > MAX_BULK:
        raise ValidationFailed(
            [FieldError(name, "entry.bulk_too_many", f"Choose at most {MAX_BULK} items at a time.")]
        )


def resolve_assignee(acting: Acting, assignee: str | None) -> int | None:
    """``"me"``, a reviewer's email address, or nothing (``None``, ``""``, ``"unassigned"``)
    to unassign: the user id to assign to."""
    value = (assignee or "").strip()
    if value.lower() in ("", "unassigned", "none"):
        return None
    if value.lower() == "me":
        user_id = acting.user_id
    else:
        user_id = (
            get_user_model()
            .objects.filter(email__iexact=value)
            .values_list("pk", flat=True)
            .first()
        )
    if user_id is None or user_id not in recipients.operators(REVIEW):
        raise ValidationFailed(
            [
                FieldError(
                    "assignee", "entry.not_a_reviewer", "Assign to a central operator reviewer."
                )
            ]
        )
    return int(user_id)


def assign(
    acting: Acting,
    *,
    case: EntryCase | None = None,
    request: InformationRequest | None = None,
    assignee: str | None,
) -> None:
    """Assign one case or request (``assignee`` as for ``resolve_assignee``)."""
    permissions.require(acting, REVIEW)
    services.assign(acting, case=case, request=request, user_id=resolve_assignee(acting, assignee))


@transaction.atomic
def bulk_assign(
    acting: Acting, targets: Sequence[Target], assignee: str | None
) -> list[ItemResult]:
    """Assign (or unassign) up to ``MAX_BULK`` cases and requests to one reviewer."""
    permissions.require(acting, REVIEW)
    _bounded(targets, "items")
    user_id = resolve_assignee(acting, assignee)
    results = []
    for target in targets:
        try:
            with transaction.atomic():
                if target.kind == "case":
                    case = selectors.case_of(acting, target.id)
                    services.assign(acting, case=case, user_id=user_id)
                else:
                    request = selectors.request_of_case(acting, target.id)
                    services.assign(acting, request=request, user_id=user_id)
        except DomainError as exc:
            results.append(ItemResult(target.id, target.kind, False, exc.code, exc.detail))
        else:
            results.append(ItemResult(target.id, target.kind, True))
    return results


@transaction.atomic
def bulk_review(
    acting: Acting, answer_ids: Sequence[str], decision: str = "accept", reason: str = ""
) -> list[ItemResult]:
    """Accept (or reject, with one reason for all) up to ``MAX_BULK`` answers, each through
    ``services.review_answer`` in its own savepoint."""
    permissions.require(acting, REVIEW)
    _bounded(answer_ids, "answer_ids")
    if decision not in ("accept", "reject"):
        raise ValidationFailed(
            [FieldError("decision", "entry.decision_invalid", "Decide accept or reject.")]
        )
    if decision == "reject":
        rules.reason_given(reason)
    results = []
    for raw in answer_ids:
        answer_id = str(raw)
        try:
            with transaction.atomic():
                answer = selectors.answer_of_case(acting, answer_id)
                services.review_answer(acting, answer, decision, reason)
        except DomainError as exc:
            results.append(ItemResult(answer_id, "answer", False, exc.code, exc.detail))
        else:
            results.append(ItemResult(answer_id, "answer", True))
    return results
