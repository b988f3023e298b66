"""Flexible assets: one row per physical asset, with a permanent Asset ID, its links to
participants, the authenticity checks run on it and the duplicates it was flagged against.

Duplicate rules that are absolute are unique indexes (decision 0015):
- manufacturer + serial number (normalised keys), for assets that have a serial;
- EIC (W code);
- an external ID whose scheme is unique (OCPP charge point; not BM Units, which group many);
- MPAN core + category for assets registered without a serial number (one anonymous asset of a
  category behind a meter; assets with serials may share a meter).
Rejected assets and drafts never block a registration: the indexes skip them. A
decommissioned asset keeps its serial, EIC and external IDs (the same device is not registered
again under a new ID) but frees its meter for a replacement (decision 0017).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import JSONField, Q, Value
from django.db.models.functions import Upper
from django.utils import timezone


class AssetStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_VALIDATION = "pending_validation", "Pending validation"
    VERIFIED = "verified", "Verified"
    QUERY = "query", "Query: with the central operator"
    REJECTED = "rejected", "Rejected"
    DECOMMISSIONED = "decommissioned", "Decommissioned"


#: Assets whose keys are claimed: everything but rejected assets and drafts.
_CLAIMS = ~Q(status__in=[AssetStatus.REJECTED, AssetStatus.DRAFT])
#: Assets in service at their site: claimed and not decommissioned (meter rule, near rules).
_IN_SERVICE = _CLAIMS & ~Q(status=AssetStatus.DECOMMISSIONED)


class Asset(models.Model):
    asset_id = models.CharField(max_length=20)  # unique: constraint asset_id_once
    status = models.CharField(
        max_length=30, choices=AssetStatus.choices, default=AssetStatus.PENDING_VALIDATION
    )
    status_reason = models.TextField(blank=True)
    # identity
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=30)
    description = models.CharField(max_length=200, blank=True)
    manufacturer = models.CharField(max_length=200, blank=True)
    manufacturer_key = models.CharField(max_length=200, blank=True)
    model = models.CharField(max_length=200, blank=True)
    serial_number = models.CharField(max_length=100, blank=True)
    serial_key = models.CharField(max_length=100, blank=True)
    eic = models.CharField(max_length=16, null=True, blank=True)  # noqa: DJ001
    energy_source = models.CharField(max_length=20, blank=True)
    # capacities (kW / kWh, 2 decimals)
    installed_kw = models.DecimalField(  # null only for a draft
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    export_kw = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    import_kw = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    storage_kwh = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    flexibility_direction = models.CharField(max_length=10)
    v2g = models.BooleanField(default=False)
    # metering and network
    import_mpan = models.CharField(max_length=13, null=True, blank=True)  # noqa: DJ001
    export_mpan = models.CharField(max_length=13, null=True, blank=True)  # noqa: DJ001
    distributor_id = models.CharField(max_length=2, blank=True)
    dno_licence_area = models.CharField(max_length=10, blank=True)
    gsp_group = models.CharField(max_length=2, blank=True)
    voltage_level = models.CharField(max_length=10, blank=True)
    connection_status = models.CharField(max_length=20)
    connection_type = models.CharField(max_length=20, blank=True)
    dno_connection_reference = models.CharField(max_length=100, blank=True)
    commissioning_date = models.DateField(null=True, blank=True)
    effective_from = models.DateField(null=True, blank=True)  # null only for a draft
    decommissioned_on = models.DateField(null=True, blank=True)
    # site
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    town = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=8)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    domestic = models.BooleanField(default=False)
    consumer_consent_reference = models.CharField(max_length=100, blank=True)
    # what the registrant's role must add (market-entry rules, ``[assets.roles.<ROLE>]``)
    role_details = models.JSONField(default=dict, blank=True, db_default=Value({}, JSONField()))
    # a draft's record as the registrant entered it (checked only when it is submitted)
    draft_record = models.JSONField(default=dict, blank=True, db_default=Value({}, JSONField()))
    # who and when
    registered_by = models.ForeignKey(  # indexed by asset_registrant (its first column)
        "participants.Participant", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    registered_by_role = models.CharField(max_length=30)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)
    catalogue_checksum = models.CharField(max_length=64, blank=True)
    import_batch = models.ForeignKey(
        "assets.AssetImport", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            # A plain unique index (equality and Asset ID order), without the
            # ``varchar_pattern_ops`` twin Django adds for ``unique=True`` (no LIKE queries).
            models.UniqueConstraint(fields=["asset_id"], name="asset_id_once"),
            models.UniqueConstraint(
                fields=["manufacturer_key", "serial_key"],
                condition=_CLAIMS & ~Q(serial_key=""),
                name="asset_serial_once",
            ),
            models.UniqueConstraint(
                fields=["eic"], condition=_CLAIMS & Q(eic__isnull=False), name="asset_eic_once"
            ),
            models.UniqueConstraint(
                fields=["import_mpan", "category"],
                condition=_IN_SERVICE & Q(serial_key="") & Q(import_mpan__isnull=False),
                name="asset_anonymous_once_per_meter",
            ),
            models.UniqueConstraint(
                fields=["export_mpan", "category"],
                condition=_IN_SERVICE
                & Q(serial_key="")
                & Q(import_mpan__isnull=True)
                & Q(export_mpan__isnull=False),
                name="asset_anonymous_once_per_export_meter",
            ),
            models.CheckConstraint(
                condition=Q(export_kw__isnull=True) | Q(export_kw__lte=models.F("installed_kw")),
                name="asset_export_within_installed",
            ),
        ]
        indexes = [
            models.Index(fields=["import_mpan"], name="asset_import_mpan"),
            models.Index(fields=["export_mpan"], name="asset_export_mpan"),
            models.Index(fields=["postcode", "category"], name="asset_postcode_category"),
            models.Index(fields=["registered_by", "asset_id"], name="asset_registrant"),
            models.Index(fields=["status", "created_at"], name="asset_status"),
            # "Does an import still wait for checks?" in one index probe, asked after every
            # conclusion (authenticity._assets_pending); small: pending assets only.
            models.Index(
                fields=["import_batch"],
                name="asset_import_pending",
                condition=Q(status=AssetStatus.PENDING_VALIDATION),
            ),
            models.Index(
                Upper("consumer_consent_reference"),
                name="asset_consent_ref",
                condition=~Q(consumer_consent_reference=""),
            ),
            models.Index(
                fields=["category", "latitude", "longitude"],
                name="asset_category_position",
                condition=Q(latitude__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.name}"


class AssetExternalId(models.Model):
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="external_ids")
    scheme = models.CharField(max_length=30)
    value = models.CharField(max_length=100)  # normalised
    is_unique = models.BooleanField(default=True)  # from the scheme (BM Units group many)
    claimed = models.BooleanField(default=True, db_default=True)  # false once its asset is rejected

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "value"],
                condition=Q(is_unique=True, claimed=True),
                name="external_id_once",
            )
        ]
        indexes = [models.Index(fields=["scheme", "value"], name="external_id_lookup")]

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}"


class Relationship(models.TextChoices):
    LEGAL_OWNER = "legal_owner", "Legal owner"
    OPERATOR = "operator", "Operator"
    CONTROLLER = "controller", "Controlling FSP or aggregator"


class AssetLink(models.Model):
    """A participant's relationship to an asset for a period. One controlling FSP/aggregator at
    a time: a PostgreSQL exclusion constraint refuses overlapping controller periods."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="links")
    participant = models.ForeignKey(  # indexed by asset_link_party (its first column)
        "participants.Participant", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    contract_reference = models.CharField(max_length=100, blank=True)
    consent_reference = models.CharField(max_length=100, blank=True)
    valid_during = DateTimeRangeField()
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            ExclusionConstraint(
                name="asset_one_controller_at_a_time",
                expressions=[
                    ("asset", RangeOperators.EQUAL),
                    ("valid_during", RangeOperators.OVERLAPS),
                ],
                condition=Q(relationship="controller"),
            )
        ]
        indexes = [
            models.Index(fields=["participant", "relationship"], name="asset_link_party"),
            models.Index(
                Upper("consent_reference"),
                name="asset_link_consent",
                condition=~Q(consent_reference=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} {self.relationship} of {self.asset_id}"


class AssetCheck(models.Model):
    """One authenticity check of an asset (meter point registry, DNO connection data,
    manufacturer registry, installer certification): outcome and evidence recorded."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to run"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Did not pass"
        NOT_FOUND = "not_found", "Not found by the service"
        ERROR = "error", "Service unavailable: will retry"
        SKIPPED = "skipped", "Not applicable"

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="checks")
    validator = models.CharField(max_length=40)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    outcome = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["asset", "validator"], name="asset_check_once")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="asset_check_due")]

    def __str__(self) -> str:
        return f"{self.validator} ({self.status})"


class DuplicateFlag(models.Model):
    """A possible duplicate found when an asset was registered: never merged, listed for the
    operator's decision."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="duplicate_flags")
    candidate = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+")
    rule = models.CharField(max_length=40)  # e.g. "near_location", "similar_serial"
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "candidate", "rule"], name="duplicate_flag_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} ~ {self.candidate_id} ({self.rule})"


class AssetImport(models.Model):
    """A bulk registration (CSV or JSON Lines) run as a background job, with progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="+"
    )
    role = models.CharField(max_length=30)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=10)  # csv | jsonl
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to="asset-imports/%Y/%m/", max_length=300)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    flagged = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["participant", "created_at"], name="asset_import_party")]

    def __str__(self) -> str:
        return f"import {self.public_id} ({self.status})"


class AssetImportRow(models.Model):
    """The outcome of one row of a bulk registration."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        FLAGGED = "flagged", "Possible duplicate"

    batch = models.ForeignKey(AssetImport, on_delete=models.CASCADE, related_name="rows")
    row_number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    asset_id = models.CharField(max_length=20, blank=True)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "row_number"], name="import_row_once")
        ]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.outcome}"


class CatalogueEntry(models.Model):
    """The central operator's change to one value of the asset catalogue (a controlled-list
    value, an external identifier scheme or a category): the table merged over
    ``categories.toml`` as an overlay (``catalogue_store``). Values are added, relabelled or
    retired, never deleted: an asset keeps the code it was registered with."""

    class Section(models.TextChoices):
        ENERGY_SOURCES = "energy_sources", "Energy sources"
        CONNECTION_STATUSES = "connection_statuses", "Connection statuses"
        CONNECTION_TYPES = "connection_types", "Connection types"
        FLEXIBILITY_DIRECTIONS = "flexibility_directions", "Flexibility directions"
        VOLTAGE_LEVELS = "voltage_levels", "Voltage levels"
        EXTERNAL_ID_SCHEMES = "external_id_schemes", "External identifier schemes"
        CATEGORIES = "categories", "Categories"

    section = models.CharField(max_length=30, choices=Section.choices)
    code = models.CharField(max_length=40)
    value = models.JSONField(default=dict)  # the table merged over the file's (label, retired…)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["section", "code"], name="catalogue_entry_once")
        ]

    def __str__(self) -> str:
        return f"{self.section}.{self.code}"
