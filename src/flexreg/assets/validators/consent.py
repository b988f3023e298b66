"""Consumer consent service: the household's consent reference is live, for this meter point,
and given to a provider linked to the asset; and the handler for the service's revocation
notices.

**The check.** Applies to domestic assets (``domestic`` is true): a household's asset is
registered only with the consumer's consent. A single registration (API, portal form, draft
submitted) asks the service in real time before anything is stored (:func:`check_now`, at
most ``REALTIME_TIMEOUT`` seconds): a reference it does not know, or says is revoked, expired
or for another meter point is refused at once (422, ``ConsentRefused``); a service that
cannot answer leaves the decision to the background check. That check (every rule below)
runs as soon as the asset is created (the pipeline queues it straight after the registration
commits), for bulk registrations too: a file of 100,000 rows cannot wait on an outside call
per row and the contract has no batch lookup. Setting: ``ASSET_CONSENT_URL`` (env
``FLEXREG_CONSENT_URL``); optional ``ASSET_CONSENT_API_KEY``.

Contract::

    GET {base}/consents/{consent_reference}

    200 {
      "consent_reference": "CNS-7F3K-92QX",  must be the one asked for (case ignored)
      "status": "active",                    "active" | "revoked" | "expired"
      "mpan_core": "1012345678909",          optional: the meter point the consent covers
      "postcode": "CB1 2AB",                 optional: the household's postcode
      "granted_to": "FR-P-...",              optional: the FlexReg Participant ID of the
                                             provider the consumer consented to (null = any
                                             provider the consumer names later)
      "scopes": ["asset_control", "meter_data"],   optional, evidence only
      "granted_at": "2025-01-10T09:00:00Z",
      "expires_at": null,                    optional
      "revoked_at": null                     optional
    }
    404 {"error": "not_found", "detail": "..."}

Rules: no reference on a domestic asset -> ``failed`` (``consent.missing``, no call made);
unknown -> ``not_found`` (``consent.not_found``); revoked -> ``failed``
(``consent.revoked``); expired (status, or ``expires_at`` passed) -> ``failed``
(``consent.expired``); another meter point -> ``consent.mpan_mismatch``; another postcode ->
``consent.postcode_mismatch``; given to a participant not linked to the asset ->
``consent.other_provider``.

**Revocation notices.** The service tells FlexReg when a consumer withdraws consent
(``POST /api/v1/consent/revocations``, signed: see ``assets.api_consent``); the endpoint calls
:func:`revoked`, which suspends the provider links that rest on that consent and tells each
provider (notification ``assets.consent_revoked``). Idempotent: a link already suspended is
left alone and each provider is told once per link.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from pydantic import Field

from flexreg.assets.models import AssetLink, Relationship
from flexreg.assets.validators.base import (
    AssetFacts,
    Reason,
    Schema,
    ServiceClient,
    ServiceUnavailable,
    ValidatorSpec,
    Verdict,
    judged,
    same_postcode,
    segment,
)
from flexreg.core import audit
from flexreg.core.acting import Acting
from flexreg.core.errors import FieldError, PermissionDenied, ValidationFailed

logger = logging.getLogger(__name__)

NAME = "consent"
LABEL = "consumer consent service"
#: Who may record a revocation besides the (signed) service itself: the central operator,
#: e.g. when a consumer withdraws consent by telephone.
RECORD_PERMISSION: Final = "assets:review"
#: The notification a provider gets when a consent its link rests on is revoked.
REVOKED_KIND: Final = "assets.consent_revoked"
REFERENCE_MAX: Final = 100


class ConsentIn(Schema):
    consent_reference: str = Field(min_length=1, max_length=REFERENCE_MAX)
    status: Literal["active", "revoked", "expired"]
    mpan_core: str | None = Field(default=None, pattern=r"^\d{13}$")
    postcode: str | None = None
    granted_to: str | None = None
    scopes: list[str] = Field(default_factory=list)
    granted_at: dt.datetime
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None


def not_applicable(facts: AssetFacts) -> str | None:
    if not facts.domestic:
        return "Consumer consent is checked for domestic sites only."
    return None


def check(facts: AssetFacts, client: ServiceClient, now: dt.datetime) -> Verdict:
    reference = facts.consent_reference
    if not reference:
        return judged(
            "",
            [Reason("consent.missing", "The domestic asset has no consumer consent reference.")],
            {"consent_reference": ""},
        )
    found = _fetch(client, reference)
    if found is None:
        return judged(
            "",
            [],
            {"consent_reference": reference, "consent": None},
            missing=[
                Reason(
                    "consent.not_found",
                    f"The consumer consent service has no consent {reference}.",
                )
            ],
        )
    failures = _failures(
        reference,
        found,
        now,
        mpans=facts.mpans,
        postcode=facts.postcode,
        linked=facts.linked_participant_ids,
    )
    return judged(
        f"Consent {reference} is active for this household.",
        failures,
        {"consent_reference": reference, "consent": found.model_dump(mode="json")},
    )


def _fetch(client: ServiceClient, reference: str) -> ConsentIn | None:
    """The service's record of ``reference`` (None: it has none); an answer about another
    consent is not trusted (``service.invalid_response``)."""
    found = client.get(f"/consents/{segment(reference.strip())}", ConsentIn)
    if found is not None and found.consent_reference.strip().upper() != reference.strip().upper():
        raise ServiceUnavailable(
            "service.invalid_response",
            f"Asked the {LABEL} for consent {reference}, the answer is for "
            f"{found.consent_reference}.",
        )
    return found


def _failures(
    reference: str,
    found: ConsentIn,
    now: dt.datetime,
    *,
    mpans: Sequence[str],
    postcode: str,
    linked: Sequence[str],
) -> list[Reason]:
    """The contract's rules against a consent the service knows (one reason per rule
    broken): the asset's MPANs and postcode, and the participants linked to it. The messages
    (shown to the asset's parties) say nothing of the consent the service holds — its meter
    point, household, provider or dates: only the central operator reads those, in the
    check's evidence (``schemas.check_out``)."""
    failures: list[Reason] = []
    if found.status == "revoked":
        failures.append(Reason("consent.revoked", f"The consumer revoked consent {reference}."))
    elif found.status == "expired" or (found.expires_at is not None and found.expires_at <= now):
        failures.append(Reason("consent.expired", f"Consent {reference} has expired."))
    if found.mpan_core and mpans and found.mpan_core not in mpans:
        failures.append(
            Reason(
                "consent.mpan_mismatch",
                f"Consent {reference} does not cover the asset's meter point ({', '.join(mpans)}).",
            )
        )
    if found.postcode and not same_postcode(found.postcode, postcode):
        failures.append(
            Reason(
                "consent.postcode_mismatch",
                f"Consent {reference} is for a household at another postcode than {postcode}.",
            )
        )
    if found.granted_to and found.granted_to not in linked:
        failures.append(
            Reason(
                "consent.other_provider",
                f"Consent {reference} was given to a participant not linked to this asset.",
            )
        )
    return failures


VALIDATOR = ValidatorSpec(NAME, LABEL, "ASSET_CONSENT_URL", not_applicable, check)


def _url() -> str:
    return str(getattr(settings, VALIDATOR.url_setting, "") or "").strip()


def configured() -> bool:
    """Whether a consumer consent service is configured (``ASSET_CONSENT_URL``)."""
    return bool(_url())


def _services_timeout() -> float:
    return float(getattr(settings, "ASSET_SERVICES_TIMEOUT", 5.0) or 5.0)


def lookup(consent_reference: str, *, timeout: float | None = None) -> ConsentIn | None:
    """The consent record now, for a caller that wants an answer during a request (e.g. a
    registration telling the user at once that a reference is unknown); None when the
    service does not know it. ``timeout`` (seconds) defaults to ``ASSET_SERVICES_TIMEOUT``.
    Raises :class:`ServiceUnavailable` when it cannot answer, including when no consent
    service is configured (``service.not_configured``)."""
    url = _url()
    if not url:
        raise ServiceUnavailable("service.not_configured", f"No {LABEL} is configured.")
    key = str(getattr(settings, VALIDATOR.key_setting, "") or "")
    wait = _services_timeout() if timeout is None else timeout
    with ServiceClient(NAME, LABEL, url, timeout=wait, api_key=key) as client:
        return _fetch(client, consent_reference)


# --- the real-time check of a registration ------------------------------------------------

#: Seconds a registration waits for the consent service (at most ``ASSET_SERVICES_TIMEOUT``):
#: a slower service and the registration goes ahead, the background check deciding.
REALTIME_TIMEOUT: Final = 2.0
#: The record's field of the consent reference (the problem's field path).
FIELD: Final = "site.consumer_consent_reference"
#: The rules that refuse a registration at once (422, nothing stored), in the order the first
#: one found names the problem: facts about the consent itself. A consent for another
#: postcode (an address written differently) or given to another provider (who may be linked
#: later) is left to the background check, which sends the asset to the operator.
REFUSED_AT_ONCE: Final = (
    "consent.not_found",
    "consent.revoked",
    "consent.expired",
    "consent.mpan_mismatch",
)
#: What a refusal says, and no more: nothing of the consent the service holds (its meter
#: point, when it was revoked) reaches a caller who has registered nothing yet, so the real-time
#: check cannot be used to learn about households from guessed references.
_REFUSAL: Final = {
    "consent.not_found": "The {label} has no consent {reference}.",
    "consent.revoked": "The consumer revoked consent {reference}.",
    "consent.expired": "Consent {reference} has expired.",
    "consent.mpan_mismatch": "Consent {reference} does not cover the asset's meter point.",
}
_NEXT_STEP: Final = {
    "consent.not_found": "Check the reference with the householder.",
    "consent.revoked": "Ask the householder for a new consent.",
    "consent.expired": "Ask the householder to renew it.",
    "consent.mpan_mismatch": "Check the MPAN and the consent reference.",
}


class ConsentRefused(ValidationFailed):
    """422: the consent service says the reference cannot be used (nothing is stored). A
    :class:`ValidationFailed` (so the portal's forms put the message at the field) whose
    problem code is the first refusing rule's: ``consent.not_found``, ``consent.revoked``,
    ``consent.expired`` or ``consent.mpan_mismatch``."""

    def __init__(self, reasons: Sequence[Reason], field: str = FIELD) -> None:
        errors = [FieldError(field, r.code, f"{r.message} {_NEXT_STEP[r.code]}") for r in reasons]
        super().__init__(
            errors,
            detail="The consumer's consent cannot be used: " + " ".join(r.message for r in reasons),
        )
        self.code = reasons[0].code


@dataclass(frozen=True)
class RealTime:
    """What the real-time check of a registration found when it did not refuse it:
    ``passed`` (the consent service accepts the reference) or ``unavailable`` (it could not
    answer in time: the background check decides)."""

    reference: str
    outcome: Literal["passed", "unavailable"]
    checked_at: dt.datetime
    code: str = ""  # why unavailable (``service.timeout``, ...)

    def evidence(self) -> dict[str, str]:
        found = {"outcome": self.outcome, "checked_at": self.checked_at.isoformat()}
        return {**found, "code": self.code} if self.code else found


def check_now(
    consent_reference: str, mpans: Sequence[str], *, field: str = FIELD
) -> RealTime | None:
    """Check a household's consent reference while its asset is being registered, before
    anything is stored: None when no consent service is configured; raises
    :class:`ConsentRefused` when the service does not know the reference, or says it is
    revoked, expired or for another meter point (``REFUSED_AT_ONCE``); else what it found.
    Waits at most ``REALTIME_TIMEOUT`` seconds: a service that cannot answer does not stop
    the registration (``unavailable``)."""
    reference = consent_reference.strip()
    if not reference or not configured():
        return None
    now = timezone.now()
    try:
        found = lookup(reference, timeout=min(REALTIME_TIMEOUT, _services_timeout()))
    except ServiceUnavailable as exc:
        logger.info(
            "real-time consent check unavailable (%s): left to the background check", exc.code
        )
        return RealTime(reference, "unavailable", now, exc.code)
    if found is None:
        codes = ["consent.not_found"]
    else:
        # The postcode and the provider are not refused at once (``REFUSED_AT_ONCE``).
        failures = _failures(reference, found, now, mpans=mpans, postcode="", linked=())
        codes = sorted(
            {r.code for r in failures if r.code in REFUSED_AT_ONCE}, key=REFUSED_AT_ONCE.index
        )
    if codes:
        refusal = [
            Reason(code, _REFUSAL[code].format(label=LABEL, reference=reference)) for code in codes
        ]
        raise ConsentRefused(refusal, field)
    return RealTime(reference, "passed", now)


# --- revocation notices -------------------------------------------------------------------


@dataclass(frozen=True)
class Revocation:
    """What a revocation notice did: the links suspended now, and those already suspended."""

    consent_reference: str
    revoked_at: dt.datetime
    suspended: tuple[str, ...]  # AssetLink public ids
    already_suspended: tuple[str, ...]
    asset_ids: tuple[str, ...]


def _may_record(acting: Acting) -> None:
    if acting.via == "system" or acting.has(RECORD_PERMISSION):
        return
    raise PermissionDenied(RECORD_PERMISSION)


def _clean_reference(raw: str) -> str:
    reference = (raw or "").strip()
    if not reference or len(reference) > REFERENCE_MAX or not reference.isprintable():
        raise ValidationFailed(
            [
                FieldError(
                    "consent_reference",
                    "consent.invalid_reference",
                    f"Give the consent reference (1 to {REFERENCE_MAX} printable characters).",
                )
            ]
        )
    return reference


@transaction.atomic
def revoked(
    consent_reference: str, revoked_at: dt.datetime, acting: Acting, *, notice_id: str = ""
) -> Revocation:
    """The consumer revoked ``consent_reference`` at ``revoked_at``: suspend every provider
    link resting on it that is still in force at that time, and tell each provider.

    Provider links are the asset's links other than its legal owner's that carry the
    reference, and the controlling FSP's link of an asset registered with the reference. The
    asset itself and the owner's link are untouched (the household still owns the asset).
    Idempotent. ``notice_id`` (the service's id of the notice) goes into the audit event.
    """
    _may_record(acting)
    reference = _clean_reference(consent_reference)
    if timezone.is_naive(revoked_at):
        raise ValidationFailed(
            [FieldError("revoked_at", "datetime.naive", "Give the time with its UTC offset.")]
        )
    now = timezone.now()
    in_force = Q(valid_during__upper_inf=True) | Q(valid_during__endswith__gt=revoked_at)
    # Case ignored, as the service does (UPPER(...) = UPPER(...): see decision 0016 for the
    # functional indexes that keep this fast).
    rests_on_it = Q(consent_reference__iexact=reference) | Q(
        asset__consumer_consent_reference__iexact=reference,
        relationship=Relationship.CONTROLLER,
    )
    links = list(
        AssetLink.objects.select_for_update(of=("self",))
        .select_related("asset", "participant")
        .filter(rests_on_it & in_force)
        .exclude(relationship=Relationship.LEGAL_OWNER)
        .order_by("pk")
    )
    suspended: list[str] = []
    already: list[str] = []
    effective = min(revoked_at, now)
    at_utc = revoked_at.astimezone(dt.UTC)
    for link in links:
        if link.suspended_at is not None:
            already.append(str(link.public_id))
            continue
        held = link.consent_reference or link.asset.consumer_consent_reference
        link.suspended_at = effective
        link.suspended_reason = (
            f"The consumer revoked consent {held} on {at_utc:%d %B %Y at %H:%M} UTC."
        )[:300]
        link.save(update_fields=["suspended_at", "suspended_reason"])
        suspended.append(str(link.public_id))
        audit.record(
            acting,
            "asset.link_suspended",
            object_type="asset",
            object_id=link.asset.asset_id,
            subject_participant_id=link.participant.participant_id,
            before={"suspended_at": None},
            after={
                "link": str(link.public_id),
                "relationship": link.relationship,
                "suspended_at": effective,
                "suspended_reason": link.suspended_reason,
                "consent_reference": held,
                "revoked_at": revoked_at,
            },
            personal=["consent_reference", "suspended_reason"],
            only_changed=False,
        )
        _tell_provider(link, held, revoked_at)
    audit.record(
        acting,
        "asset.consent_revocation_received",
        object_type="consent",
        object_id="",
        after={
            "notice_id": notice_id,
            "consent_reference": reference,
            "revoked_at": revoked_at,
            "links_suspended": len(suspended),
            "links_already_suspended": len(already),
        },
        personal=["consent_reference"],
    )
    return Revocation(
        consent_reference=reference,
        revoked_at=revoked_at,
        suspended=tuple(suspended),
        already_suspended=tuple(already),
        asset_ids=tuple(sorted({link.asset.asset_id for link in links})),
    )


def provider_recipients(participant_pk: int) -> list[int]:
    """Users acting for any live role of the participant who may see its assets (else its
    Authorised Persons)."""
    from flexreg.participants import selectors_recipients
    from flexreg.participants.models import ParticipantRole, RoleStatus

    users: set[int] = set()
    for held in ParticipantRole.objects.filter(
        participant_id=participant_pk,
        status__in=[RoleStatus.ACTIVE, RoleStatus.PENDING, RoleStatus.SUSPENDED],
    ).select_related("participant"):
        users.update(selectors_recipients.role_members(held, "assets:read"))
    return sorted(users) or selectors_recipients.authorised_persons(participant_pk)


def _tell_provider(link: AssetLink, reference: str, revoked_at: dt.datetime) -> None:
    from flexreg.notifications import kinds
    from flexreg.notifications.services import notify

    if REVOKED_KIND not in kinds.KINDS:
        logger.warning(
            "notification kind %s is not in the catalogue: provider %s not told about the "
            "suspended link %s",
            REVOKED_KIND,
            link.participant.participant_id,
            link.public_id,
        )
        return
    asset = link.asset
    notify(
        REVOKED_KIND,
        provider_recipients(link.participant_id),
        subject=f"Consumer consent revoked: {asset.name} ({asset.asset_id})",
        context={
            "asset_id": asset.asset_id,
            "asset_name": asset.name,
            "participant_id": link.participant.participant_id,
            "relationship": link.get_relationship_display(),
            "consent_reference": reference,
            "revoked_at": revoked_at,
            "reason": link.suspended_reason,
        },
        link=f"/assets/{asset.asset_id}/",
        participant_id=link.participant.participant_id,
        dedupe_key=f"{REVOKED_KIND}:{link.public_id}",
        email_mandatory=True,
    )
