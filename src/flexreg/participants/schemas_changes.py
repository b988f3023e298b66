"""API schemas for ongoing management: change requests for verified facts, off-boarding."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from flexreg.participants.models import Participant
from flexreg.participants.models_changes import ChangeField, ChangeStatus, ParticipantChange
from flexreg.participants.schemas import (
    AddressIn,
    CompanyNumberField,
    DeclarationIn,
    ReasonOut,
    StrictSchema,
)

ChangeFieldCode = Literal["legal_name", "company_number", "registered_address", "declaration"]
Note = Annotated[str, Field(max_length=2000)]
Reason = Annotated[str, Field(min_length=3, max_length=2000)]


class ChangeIn(StrictSchema):
    """Ask to change one verified fact: name it in ``field`` and give its new value in the
    property of the same name (only that one)."""

    field: ChangeFieldCode
    legal_name: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    company_number: CompanyNumberField | None = None
    registered_address: AddressIn | None = None
    declaration: DeclarationIn | None = Field(
        default=None, description="A new director's declaration (a current officer)."
    )
    note: Note = Field(default="", description="Why the change is asked for (optional).")

    @model_validator(mode="after")
    def _one_value(self) -> ChangeIn:
        if getattr(self, self.field) is None:
            raise PydanticCustomError(
                "participant_change.value_required",
                "Give the new value in '{field}'.",
                {"field": self.field},
            )
        others = [f for f in ChangeField.values if f != self.field and getattr(self, f) is not None]
        if others:
            raise PydanticCustomError(
                "participant_change.one_field",
                "A change request changes one field: leave out {others}.",
                {"others": ", ".join(others)},
            )
        return self

    def value(self) -> Any:
        """The new value in the shape it is stored in."""
        given = getattr(self, self.field)
        if self.field == ChangeField.REGISTERED_ADDRESS:
            return given.model_dump()
        if self.field == ChangeField.DECLARATION:
            return {
                "declarant_name": given.declarant_name,
                "declarant_is_applicant": given.declarant_is_applicant,
            }
        return given


class ChangeDecisionIn(StrictSchema):
    decision: Literal["approve", "reject"]
    reason: Reason


class ChangeOut(Schema):
    change_id: uuid.UUID
    participant_id: str
    field: ChangeField
    status: ChangeStatus
    old_value: Any = Field(description="The value in force when the change was asked for.")
    new_value: Any
    note: str
    requested_at: dt.datetime
    reasons: list[ReasonOut]
    attempts: int
    next_attempt_at: dt.datetime | None
    company: dict[str, Any]
    matched_officer: dict[str, Any]
    decided_at: dt.datetime | None
    decision_reason: str
    applied_at: dt.datetime | None


class ChangePage(Schema):
    items: list[ChangeOut]
    next_cursor: str | None


class OffboardIn(StrictSchema):
    reason: Reason


class OffboardOut(Schema):
    participant_id: str
    status: str
    memberships_ended: int
    users_deactivated: int
    tokens_revoked: int


def change_out(change: ParticipantChange, participant: Participant | None = None) -> ChangeOut:
    participant = participant or change.participant
    return ChangeOut(
        change_id=change.public_id,
        participant_id=participant.participant_id,
        field=ChangeField(change.field),
        status=ChangeStatus(change.status),
        old_value=change.old_value,
        new_value=change.new_value,
        note=change.note,
        requested_at=change.requested_at,
        reasons=[ReasonOut(**r) for r in change.reasons],
        attempts=change.attempts,
        next_attempt_at=change.next_attempt_at,
        company=change.company_snapshot,
        matched_officer=change.matched_officer,
        decided_at=change.decided_at,
        decision_reason=change.decision_reason,
        applied_at=change.applied_at,
    )
