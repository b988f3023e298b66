"""Core tables: the append-only, hash-chained audit log."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One write, as the service that made it recorded it. Append-only (database triggers).

    ``seq`` is contiguous (assigned under an advisory lock), ``prev_hash`` is the previous row's
    ``row_hash`` and ``row_hash`` covers ``prev_hash`` and this row's canonical content. Personal
    values are not in ``changes``: they sit in ``AuditPersonalValue`` and only their salted
    digests are chained, so erasing them under UK GDPR keeps the chain verifiable.
    """

    seq = models.BigIntegerField(unique=True)
    occurred_at = models.DateTimeField()
    actor_user_id = models.BigIntegerField(null=True)
    actor_label = models.CharField(max_length=200)
    via = models.CharField(max_length=20)
    acting_participant_id = models.CharField(max_length=20, blank=True)
    acting_role = models.CharField(max_length=40, blank=True)
    on_behalf_of = models.CharField(max_length=40, blank=True)
    request_id = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=100)
    # Participant the object belongs to (a Participant ID), to let owners read their trail.
    subject_participant_id = models.CharField(max_length=20, blank=True, db_index=True)
    changes = models.JSONField(default=dict)
    personal_digests = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    row_hash = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditPersonalValue(models.Model):
    """Personal data recorded by an audit event, kept apart so it can be erased.

    ``digest`` = SHA-256 over ``salt`` and the canonical value; the event chains only the digest.
    Rows may be deleted (erasure) but never updated (trigger).
    """

    event = models.ForeignKey(AuditEvent, on_delete=models.PROTECT, related_name="personal")
    path = models.CharField(max_length=200)  # e.g. "after.legal_name"
    value = models.JSONField(null=True)
    salt = models.CharField(max_length=64)
    digest = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "path"], name="audit_personal_unique_path")
        ]

    def __str__(self) -> str:
        return f"{self.event_id}:{self.path}"


class RateLimitCounter(models.Model):
    """A fixed-window counter (and, for failed sign-ins, a lockout) shared by every process.

    Written only by ``core.ratelimit`` with one atomic ``INSERT … ON CONFLICT … DO UPDATE`` per
    hit; expired rows are pruned there. The table is UNLOGGED (see migration 0003): counters
    are worth losing in a crash rather than writing to the WAL on every sign-in.
    """

    key = models.CharField(max_length=200, primary_key=True)
    count = models.IntegerField(default=0)
    window_start = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.key}={self.count}"


class ScheduledJob(models.Model):
    """When each periodic job (core.scheduler) last ran and runs next."""

    name = models.CharField(max_length=100, unique=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    runs = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return self.name
