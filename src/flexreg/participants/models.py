"""Participants (organisations and private individuals), their roles, memberships and checks."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import Q, Value
from django.utils import timezone

from flexreg.core.roles import ROLE_CODES


class ParticipantKind(models.TextChoices):
    ORGANISATION = "organisation", "Organisation"
    INDIVIDUAL = "individual", "Private individual"


class OrganisationType(models.TextChoices):
    COMPANY = "company", "UK company"
    LLP = "llp", "Limited liability partnership"
    PARTNERSHIP = "partnership", "Partnership"
    PUBLIC_BODY = "public_body", "Public body"
    CHARITY = "charity", "Charity or community benefit society"
    NON_UK = "non_uk", "Organisation registered outside the UK"
    OTHER = "other", "Other"


class ParticipantStatus(models.TextChoices):
    PENDING_VERIFICATION = "pending_verification", "Pending verification"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    WITHDRAWN = "withdrawn", "Withdrawn"
    REJECTED = "rejected", "Rejected"


class Participant(models.Model):
    participant_id = models.CharField(max_length=20, unique=True)
    kind = models.CharField(max_length=20, choices=ParticipantKind.choices)
    status = models.CharField(
        max_length=30,
        choices=ParticipantStatus.choices,
        default=ParticipantStatus.PENDING_VERIFICATION,
    )
    legal_name = models.CharField(max_length=300)
    trading_name = models.CharField(max_length=300, blank=True)
    organisation_type = models.CharField(
        max_length=20, choices=OrganisationType.choices, blank=True
    )
    # Normalised Companies House number; NULL for individuals and organisations without one.
    company_number = models.CharField(max_length=8, null=True, blank=True)  # noqa: DJ001
    non_uk_country = models.CharField(max_length=2, blank=True)  # ISO 3166-1 alpha-2
    non_uk_registry = models.CharField(max_length=200, blank=True)
    non_uk_registration_number = models.CharField(max_length=100, blank=True)
    registered_address = models.JSONField(default=dict)
    vat_number = models.CharField(max_length=20, blank=True)
    website = models.URLField(max_length=300, blank=True)
    email_domains = ArrayField(models.CharField(max_length=253), default=list, blank=True)
    eic_code = models.CharField(max_length=16, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company_number"],
                # A withdrawn (off-boarded) company may register again under a new ID.
                condition=Q(company_number__isnull=False) & ~Q(status="withdrawn"),
                name="participant_company_number_unique",
            ),
            models.CheckConstraint(
                condition=Q(kind="organisation") | Q(company_number__isnull=True),
                name="participant_individual_has_no_company",
            ),
        ]
        indexes = [models.Index(fields=["status", "participant_id"])]

    def __str__(self) -> str:
        return f"{self.participant_id} {self.legal_name}"


class ContactKind(models.TextChoices):
    PRIMARY = "primary", "Primary contact"
    SECONDARY = "secondary", "Secondary contact"
    TECHNICAL = "technical", "Technical contact"


class Contact(models.Model):
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="contacts")
    kind = models.CharField(max_length=20, choices=ContactKind.choices)
    name = models.CharField(max_length=200)
    email = models.EmailField()
    phone = models.CharField(max_length=20)  # E.164

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "kind"], name="contact_one_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} contact of {self.participant_id}"


class RoleStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    WITHDRAWN = "withdrawn", "Withdrawn"
    REJECTED = "rejected", "Rejected"


class ParticipantRole(models.Model):
    """A market role a participant holds. Never twice: re-asking re-opens the same row."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=30, choices=[(c, c) for c in ROLE_CODES])
    status = models.CharField(max_length=20, choices=RoleStatus.choices, default=RoleStatus.PENDING)
    requested_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)
    status_reason = models.TextField(blank=True)
    # Set when the role's market-entry case is qualified (``entry``): only then is the role
    # operational, i.e. may its members use permissions marked ``operational``.
    qualified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "role"], name="participant_role_once")
        ]

    def __str__(self) -> str:
        return f"{self.participant.participant_id}/{self.role}"

    @property
    def is_operational(self) -> bool:
        return self.status == RoleStatus.ACTIVE and self.qualified_at is not None


class Membership(models.Model):
    """A user acting for one participant role, with permissions from the catalogue."""

    # The external handle (API, portal URLs): internal keys never leave the service.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    participant_role = models.ForeignKey(
        ParticipantRole, on_delete=models.CASCADE, related_name="memberships"
    )
    permissions = ArrayField(models.CharField(max_length=60), default=list)
    is_authorised_person = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "participant_role"], name="membership_once_per_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.participant_role}"


class VerificationMethod(models.TextChoices):
    COMPANIES_HOUSE = "companies_house", "Companies House and director's declaration"
    IDENTITY = "identity", "Proof of identity"
    MANUAL = "manual", "Manual review with supporting documents"


class VerificationStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the automatic check"
    PASSED = "passed", "Passed automatically"
    NEEDS_REVIEW = "needs_review", "With the central operator for review"
    APPROVED = "approved", "Approved by the central operator"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Replaced by a newer submission"


class Verification(models.Model):
    """One attempt to verify a participant, with what was declared, checked and decided."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="verifications"
    )
    method = models.CharField(max_length=20, choices=VerificationMethod.choices)
    status = models.CharField(
        max_length=20, choices=VerificationStatus.choices, default=VerificationStatus.PENDING
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    # The director's declaration.
    declarant_name = models.CharField(max_length=200, blank=True)
    declarant_is_applicant = models.BooleanField(default=False)
    declaration_accepted_at = models.DateTimeField(null=True, blank=True)
    # What the checks found.
    company_snapshot = models.JSONField(default=dict, blank=True)
    matched_officer = models.JSONField(default=dict, blank=True)
    reasons = models.JSONField(default=list, blank=True)  # [{"code", "message"}]
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    # The operator's decision.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "submitted_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["participant"],
                condition=Q(status__in=["pending", "needs_review"]),
                name="verification_one_open_per_participant",
            )
        ]

    def __str__(self) -> str:
        return f"verification {self.public_id} ({self.status})"


class RegisteredCompany(models.Model):
    """Companies House's Basic Company Data (bulk CSV), for offline existence/status checks."""

    company_number = models.CharField(max_length=8, primary_key=True)
    company_name = models.CharField(max_length=300)
    status = models.CharField(max_length=40)
    status_label = models.CharField(max_length=100)
    category = models.CharField(max_length=100, blank=True)
    incorporation_date = models.DateField(null=True, blank=True)
    dissolution_date = models.DateField(null=True, blank=True)
    postcode = models.CharField(max_length=10, blank=True)
    address = models.JSONField(default=dict)
    imported_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.company_number} {self.company_name}"


# --- authorisations: approvals of new Authorised Persons, invitations ------------------------


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


class AuthorisedPersonRequest(models.Model):
    """Maker-checker: a request to make a user an Authorised Person of a participant role.

    Made by someone holding ``memberships:manage``; approved by a *different* Authorised Person
    of the same participant role or by a central operator, before ``expires_at``.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    participant_role = models.ForeignKey(
        ParticipantRole, on_delete=models.CASCADE, related_name="authorised_person_requests"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    permissions = ArrayField(models.CharField(max_length=60), default=list)
    status = models.CharField(
        max_length=20, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant_role", "user"],
                condition=Q(status="pending"),
                name="ap_request_one_pending_per_user_role",
            )
        ]
        indexes = [
            models.Index(fields=["participant_role", "status"], name="ap_request_role_status")
        ]

    def __str__(self) -> str:
        return f"authorised person request {self.public_id} ({self.status})"


class Invitation(models.Model):
    """An emailed, single-use, expiring invitation to act for a participant role.

    The token is shown (and emailed) once; only its SHA-256 digest is stored.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    participant_role = models.ForeignKey(
        ParticipantRole, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(max_length=254)  # stored lower-case
    permissions = ArrayField(models.CharField(max_length=60), default=list)
    digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    domain_override_reason = models.TextField(blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["participant_role", "created_at"], name="invitation_role_created")
        ]

    def __str__(self) -> str:
        return f"invitation {self.public_id}"

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


# --- delegation to third-party platforms -----------------------------------------------------


class TsTzRange(models.Func):
    """``tstzrange(lower, upper, '[)')``: a validity period, for the exclusion constraint."""

    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Delegation(models.Model):
    """A client participant role lets a PLATFORM participant act for it with chosen permissions.

    Valid in ``[valid_from, valid_to)`` unless revoked. At most one unrevoked delegation per
    (client role, platform) covers any instant (exclusion constraint, btree_gist). The platform
    acts with ``permissions ∩ what the platform caller holds``; see
    docs/decisions/0009-delegation-and-service-accounts.md.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client_role = models.ForeignKey(
        ParticipantRole, on_delete=models.CASCADE, related_name="delegations_granted"
    )
    platform = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="delegations_received"
    )
    permissions = ArrayField(models.CharField(max_length=60), default=list)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__gt=models.F("valid_from")),
                name="delegation_period_not_empty",
            ),
            ExclusionConstraint(
                name="delegation_one_at_a_time",
                expressions=[
                    ("client_role", RangeOperators.EQUAL),
                    ("platform", RangeOperators.EQUAL),
                    (TsTzRange("valid_from", "valid_to", Value("[)")), RangeOperators.OVERLAPS),
                ],
                condition=Q(revoked_at__isnull=True),
            ),
        ]
        indexes = [
            models.Index(fields=["platform", "valid_to"], name="delegation_platform_to"),
            models.Index(fields=["client_role", "valid_to"], name="delegation_client_to"),
        ]

    def __str__(self) -> str:
        return f"delegation {self.public_id}"

    def status_at(self, when: dt.datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if when < self.valid_from:
            return "scheduled"
        if when >= self.valid_to:
            return "expired"
        return "active"

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())


from flexreg.participants.models_changes import *  # noqa: E402, F403
