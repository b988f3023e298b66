"""Ongoing management: change requests for verified facts, and the periodic Companies House
re-check of verified companies (issue 4; docs/decisions/0013-company-status-recheck.md).

Imported at the end of ``participants/models.py`` so Django registers these models with the
``participants`` app.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

__all__ = [
    "OPEN_CHANGE_STATUSES",
    "ChangeField",
    "ChangeStatus",
    "CompanyRecheck",
    "ParticipantChange",
    "RecheckOutcome",
]


class ChangeField(models.TextChoices):
    """The verified facts a participant changes through a change request (not the PATCH)."""

    LEGAL_NAME = "legal_name", "Legal name"
    COMPANY_NUMBER = "company_number", "Company number"
    REGISTERED_ADDRESS = "registered_address", "Registered address"
    DECLARATION = "declaration", "Director's declaration"


class ChangeStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the automatic check"
    NEEDS_REVIEW = "needs_review", "With the central operator for review"
    APPLIED = "applied", "Verified and applied"
    APPROVED = "approved", "Approved by the central operator and applied"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


# A change is "open" (the old value still in force) while it is in one of these.
OPEN_CHANGE_STATUSES = (ChangeStatus.PENDING.value, ChangeStatus.NEEDS_REVIEW.value)


class ParticipantChange(models.Model):
    """A request to change one verified fact. The old value stays in force until the change is
    verified (automatically against Companies House, or by the central operator)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.CASCADE, related_name="change_requests"
    )
    field = models.CharField(max_length=30, choices=ChangeField.choices)
    status = models.CharField(
        max_length=20, choices=ChangeStatus.choices, default=ChangeStatus.PENDING
    )
    # The value in force when the change was asked for, and the one asked for.
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField()
    note = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    # What the automatic check found.
    company_snapshot = models.JSONField(default=dict, blank=True)
    matched_officer = models.JSONField(default=dict, blank=True)
    reasons = models.JSONField(default=list, blank=True)  # [{"code", "message"}]
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    # The operator's decision, and when the new value took effect.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "field"],
                condition=Q(status__in=OPEN_CHANGE_STATUSES),
                name="participant_change_one_open_per_field",
            )
        ]
        indexes = [
            models.Index(fields=["status", "requested_at"], name="participant_change_queue"),
            models.Index(fields=["participant", "requested_at"], name="participant_change_of"),
        ]

    def __str__(self) -> str:
        return f"change {self.public_id} of {self.field} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_CHANGE_STATUSES


class RecheckOutcome(models.TextChoices):
    OK = "ok", "Active on the register"
    SUSPENDED = "suspended", "Participant suspended"
    ALREADY_SUSPENDED = "already_suspended", "Participant already suspended"
    WATCH = "watch", "Operators alerted"
    NOT_FOUND = "not_found", "Not found on the register"
    UNAVAILABLE = "unavailable", "Companies House unavailable: retried next run"


class CompanyRecheck(models.Model):
    """When a verified company was last checked again against Companies House, and what was
    found. ``last_checked_at`` moves only when Companies House answered: an outage leaves the
    participant due, so the next run retries it."""

    participant = models.OneToOneField(
        "participants.Participant",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="company_recheck",
    )
    company_number = models.CharField(max_length=8)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=40, blank=True)  # the register's company_status
    last_status_detail = models.CharField(max_length=100, blank=True)
    last_outcome = models.CharField(max_length=20, choices=RecheckOutcome.choices, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    # The register status operators and Authorised Persons were last alerted about: an alert
    # goes out once per status, not once per run.
    alerted_status = models.CharField(max_length=150, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["last_checked_at"], name="company_recheck_checked")]

    def __str__(self) -> str:
        return f"re-check of {self.company_number} ({self.last_outcome or 'never'})"
