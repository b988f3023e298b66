"""Managed market entry: rule versions, one case per participant role, information requests,
answers with their history, uploaded documents, external check runs and sent reminders."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class RuleSetVersion(models.Model):
    """One compiled, validated rule set (the repository file plus the operator's additions at
    that moment). Cases point at the version they follow, so changing the rules never changes
    a case already under way."""

    number = models.PositiveIntegerField(unique=True)
    checksum = models.CharField(max_length=64, unique=True)  # SHA-256 of the canonical content
    content = models.JSONField()
    source_revision = models.CharField(max_length=100)  # the file's ``revision``
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"rules v{self.number} ({self.source_revision})"


class RuleAddition(models.Model):
    """An operator-editable addition to the file rules: an extra step for some roles and kinds
    of participant. Retired, never deleted (audited)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    key = models.SlugField(max_length=60)
    roles = models.JSONField(default=list)  # role codes the step is added to
    step = models.JSONField()  # a step definition, validated like a file step
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(retired_at__isnull=True), name="rule_addition_key_live"
            )
        ]

    def __str__(self) -> str:
        return self.key


class CaseStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"
    UNDER_REVIEW = "under_review", "Under review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    QUALIFIED = "qualified", "Qualified"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_CASE_STATES = (
    CaseStatus.NOT_STARTED,
    CaseStatus.IN_PROGRESS,
    CaseStatus.SUBMITTED,
    CaseStatus.UNDER_REVIEW,
    CaseStatus.CHANGES_REQUESTED,
)


class EntryCase(models.Model):
    """The market-entry case of one participant role."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    participant_role = models.OneToOneField(
        "participants.ParticipantRole", on_delete=models.PROTECT, related_name="entry_case"
    )
    rule_version = models.ForeignKey(RuleSetVersion, on_delete=models.PROTECT, related_name="+")
    participant_kind = models.CharField(max_length=20)  # organisation | individual | non_uk
    status = models.CharField(
        max_length=20, choices=CaseStatus.choices, default=CaseStatus.NOT_STARTED
    )
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    final_review = models.BooleanField(default=False)  # from the rules, at creation
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    qualified_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=["status", "status_changed_at"])]

    def __str__(self) -> str:
        return f"entry case {self.public_id} ({self.status})"


class StepKind(models.TextChoices):
    DOCUMENT = "document", "Document upload"
    FORM = "form", "Structured form"
    TEXT = "text", "Text answer"
    CHECK = "check", "External check"
    REVIEW = "review", "Central operator review"


class RequestStatus(models.TextChoices):
    WAITING = "waiting", "Cannot start yet"
    OPEN = "open", "Waiting for an answer"
    CHECKING = "checking", "External check running"
    ANSWERED = "answered", "Waiting for review"
    ACCEPTED = "accepted", "Accepted"
    CANCELLED = "cancelled", "Cancelled"


class InformationRequest(models.Model):
    """What the participant must provide for one step (raised by the rules) or ad hoc (raised
    by an operator): what, why, by when, and who answers and reviews it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(EntryCase, on_delete=models.PROTECT, related_name="requests")
    step_key = models.CharField(max_length=60)  # rule step key, or "adhoc-<n>"
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    title = models.CharField(max_length=200)
    why = models.TextField(blank=True)
    definition = models.JSONField(default=dict)  # the step as the rules gave it (snapshot)
    after = models.JSONField(default=list)  # step keys that must be accepted first
    reviewer = models.CharField(max_length=20, default="operator")  # operator | none
    answerer = models.CharField(max_length=20, default="participant")  # participant | operator
    required = models.BooleanField(default=True)
    status = models.CharField(
        max_length=20, choices=RequestStatus.choices, default=RequestStatus.WAITING
    )
    due_days = models.PositiveIntegerField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    last_rejection_reason = models.TextField(blank=True)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "step_key"], name="request_step_once_per_case")
        ]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["status", "answered_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.step_key} ({self.status})"


class Document(models.Model):
    """An uploaded file: stored through Django's storage API outside static files, checked by
    content, hashed, and scanned before a reviewer may open it."""

    class Scan(models.TextChoices):
        PENDING = "pending", "Waiting for the malware scan"
        CLEAN = "clean", "Clean"
        INFECTED = "infected", "Infected: quarantined"
        FAILED = "failed", "Scan failed: will be retried"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="+"
    )
    file = models.FileField(upload_to="entry/%Y/%m/", max_length=300)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)  # detected from the content, not the name
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    scan_status = models.CharField(max_length=20, choices=Scan.choices, default=Scan.PENDING)
    scan_detail = models.CharField(max_length=300, blank=True)
    scanned_at = models.DateTimeField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["scan_status", "uploaded_at"],
                condition=Q(scan_status__in=["pending", "failed"]),
                name="document_scan_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"


class AnswerStatus(models.TextChoices):
    PENDING_REVIEW = "pending_review", "Waiting for review"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Replaced by a newer answer"


class Answer(models.Model):
    """One answer to a request; never changed except by its review. The full history."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    request = models.ForeignKey(
        InformationRequest, on_delete=models.PROTECT, related_name="answers"
    )
    text = models.TextField(blank=True)
    form_data = models.JSONField(default=dict, blank=True)
    document = models.ForeignKey(Document, null=True, on_delete=models.PROTECT, related_name="+")
    check_outcome = models.JSONField(default=dict, blank=True)  # for check steps
    status = models.CharField(
        max_length=20, choices=AnswerStatus.choices, default=AnswerStatus.PENDING_REVIEW
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_reason = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["request", "submitted_at"])]

    def __str__(self) -> str:
        return f"answer {self.public_id} ({self.status})"


class CheckRun(models.Model):
    """One run of an external check for a request; retried with backoff while the service is
    down, its outcome and evidence recorded."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to run"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Did not pass: operator review"
        ERROR = "error", "Service unavailable: will retry"

    request = models.ForeignKey(InformationRequest, on_delete=models.PROTECT, related_name="checks")
    check_name = models.CharField(max_length=60)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    outcome = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.check_name} ({self.status})"


class SentReminder(models.Model):
    """A reminder, overdue notice or escalation already sent for a request: the unique key makes
    reminders idempotent across restarts and concurrent workers."""

    request = models.ForeignKey(
        InformationRequest, on_delete=models.PROTECT, related_name="reminders"
    )
    key = models.CharField(max_length=60)  # e.g. "before:7", "overdue", "escalation"
    due_at = models.DateTimeField()  # the due date the reminder was about (a new due date re-arms)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["request", "key", "due_at"], name="reminder_once_per_due_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} for {self.request_id}"


class EicRecord(models.Model):
    """One Energy Identification Code from ENTSO-E's published lists (``flexreg eic import``)."""

    code = models.CharField(max_length=16, primary_key=True)
    object_type = models.CharField(max_length=1)  # X, Y, Z, W, V, T, A
    display_name = models.CharField(max_length=200, blank=True)
    long_name = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=30, blank=True)  # as published, e.g. "Active"
    issuer = models.CharField(max_length=100, blank=True)
    vat_code = models.CharField(max_length=40, blank=True)
    function_list = models.CharField(max_length=300, blank=True)
    source_file = models.CharField(max_length=200, blank=True)
    imported_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.code


class ConnectivityTest(models.Model):
    """A call the participant's own system made to ``POST /api/v1/entry/connectivity-test``
    with its credentials: evidence for the API connectivity step."""

    participant_role = models.ForeignKey(
        "participants.ParticipantRole", on_delete=models.PROTECT, related_name="+"
    )
    via = models.CharField(max_length=20)  # token | service_account
    user_agent = models.CharField(max_length=300, blank=True)
    called_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"connectivity test {self.pk}"
