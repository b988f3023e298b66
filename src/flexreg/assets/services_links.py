"""An asset's parties beyond its registrant: add a link (legal owner, operator, controlling
FSP or aggregator) for a period, and end one. One transaction each, under the asset's row lock,
audited, the parties told after commit; docs/decisions/0018-asset-links.md.

Periods are whole days in UK time (``TIME_ZONE``): a link valid from ``D`` is in force from
00:00 on ``D``; a link valid to ``E`` ends at 00:00 on ``E`` (the end is exclusive), so a
provider switch on ``D`` is the old controller's link ended at ``D`` and the new one starting at
``D``, never overlapping. One controller at a time is the exclusion constraint
``asset_one_controller_at_a_time``; the checks here give the coded answer first, and the
constraint (caught in a savepoint) is the backstop for a writer that does not lock the asset.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.db.models import Q
from django.utils import timezone

from flexreg.assets import selectors
from flexreg.assets.lifecycle import IN_SERVICE
from flexreg.assets.models import Asset, AssetLink, Relationship
from flexreg.assets.services_lifecycle import REGISTER, REVIEW, reason_errors
from flexreg.assets.validators import consent
from flexreg.core import audit, validation
from flexreg.core.acting import Acting
from flexreg.core.errors import (
    DomainError,
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from flexreg.identifiers import IdentifierError, ParticipantId

LINKED_KIND: Final = "assets.linked"
LINK_ENDED_KIND: Final = "assets.link_ended"
#: The roles that may control an asset (dispatch its flexibility); held operational.
CONTROLLER_ROLES: Final = frozenset({"FSP", "AGGREGATOR", "SUPPLIER"})
REFERENCE_MAX: Final = 100
RELATIONSHIPS: Final = {r.value: r.label for r in Relationship}
OVERLAP_CONSTRAINT: Final = "asset_one_controller_at_a_time"
_CONFLICT: Final = "Conflict with the current state"


@dataclass(frozen=True)
class NewLink:
    """What a caller asks for (text as given: the service checks it)."""

    participant_id: str
    relationship: str
    valid_from: dt.date | None = None  # default: today
    valid_to: dt.date | None = None  # open-ended
    contract_reference: str | None = None
    consent_reference: str | None = None


# --- days and instants ------------------------------------------------------------------------


def day_start(day: dt.date) -> dt.datetime:
    """00:00 on ``day`` in UK time (the instant a link valid from, or to, ``day`` changes)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def first_day(link: AssetLink) -> dt.date | None:
    lower = link.valid_during.lower if link.valid_during else None
    return timezone.localdate(lower) if lower is not None else None


def last_day(link: AssetLink) -> dt.date | None:
    """The day the link ends (exclusive: it is not in force on that day), None if open-ended."""
    upper = link.valid_during.upper if link.valid_during else None
    return timezone.localdate(upper) if upper is not None else None


def _period(lower: dt.datetime | None, upper: dt.datetime | None) -> str:
    start = f"{timezone.localdate(lower):%-d %B %Y}" if lower is not None else "the start"
    if upper is None:
        return f"from {start}, open-ended"
    return f"from {start} to {timezone.localdate(upper):%-d %B %Y}"


# --- who may ------------------------------------------------------------------------------------


def _require_writer(acting: Acting) -> None:
    if not (acting.has(REGISTER) or acting.has(REVIEW)):
        raise PermissionDenied(REGISTER)


def _not_linked() -> DomainError:
    return DomainError(
        code="asset.not_linked",
        detail="Only a party linked to the asset now (owner, operator, provider) or the central "
        "operator may change who is linked to it.",
        status=403,
        title="Forbidden",
    )


def may_add(acting: Acting, asset: Asset) -> bool:
    """Whether the caller may link another party to an asset it sees (the portal's button)."""
    return (
        asset.status in IN_SERVICE
        and (acting.has(REGISTER) or acting.has(REVIEW))
        and selectors.may_maintain(acting, asset)
    )


def may_end(
    acting: Acting, asset: Asset, link: AssetLink, *, maintainer: bool | None = None
) -> bool:
    """Whether the caller may end ``link``: a maintainer of the asset, or the linked participant
    itself (acting with ``assets:register``), while the link has not ended."""
    if not (acting.has(REGISTER) or acting.has(REVIEW)):
        return False
    upper = link.valid_during.upper if link.valid_during else None
    if upper is not None and upper <= timezone.now():
        return False
    if acting.participant_pk is not None and acting.participant_pk == link.participant_id:
        return True
    return selectors.may_maintain(acting, asset) if maintainer is None else maintainer


# --- adding a link ------------------------------------------------------------------------------


def _text(raw: Any, field: str, label: str) -> tuple[str, list[FieldError]]:
    if raw is None:
        return "", []
    if not isinstance(raw, str):
        return "", [FieldError(field, "type_error", f"Enter the {label} as text.")]
    value = raw.strip()
    if validation.has_control_characters(value) or not value.isprintable():
        return "", [
            FieldError(field, "text.control_character", validation.CONTROL_CHARACTER_MESSAGE)
        ]
    if len(value) > REFERENCE_MAX:
        message = f"Enter the {label} in {REFERENCE_MAX} characters or fewer."
        return "", [FieldError(field, "too_long", message)]
    return value, []


def _participant(raw: str, relationship: str, errors: list[FieldError]) -> Any:
    """The active participant named, or None with the error added."""
    from flexreg.participants.models import (
        Participant,
        ParticipantRole,
        ParticipantStatus,
        RoleStatus,
    )

    if not (raw or "").strip():
        errors.append(
            FieldError(
                "participant_id",
                "asset.link_participant_required",
                "Enter the Participant ID of the party to link.",
            )
        )
        return None
    try:
        participant_id = str(ParticipantId.parse(raw))
    except IdentifierError as exc:
        errors.append(
            FieldError(
                "participant_id",
                "asset.link_participant_invalid",
                f"Enter a Participant ID such as P-3M9QX2HDK7P ({exc.message.rstrip('.')}).",
            )
        )
        return None
    found = Participant.objects.filter(
        participant_id=participant_id, status=ParticipantStatus.ACTIVE
    ).first()
    if found is None:
        # Suspended, withdrawn, pending or unknown alike: only active participants are public.
        errors.append(
            FieldError(
                "participant_id",
                "asset.link_participant_unknown",
                f"There is no active participant {participant_id}: check the Participant ID.",
            )
        )
        return None
    if relationship == Relationship.CONTROLLER:
        held = ParticipantRole.objects.filter(
            participant=found,
            role__in=CONTROLLER_ROLES,
            status=RoleStatus.ACTIVE,
            qualified_at__isnull=False,
        ).exists()
        if not held:
            errors.append(
                FieldError(
                    "participant_id",
                    "asset.link_controller_role",
                    f"{participant_id} does not hold a qualified FSP, aggregator or supplier "
                    "role, so it cannot control an asset.",
                )
            )
            return None
    return found


def _checked(asset: Asset, new: NewLink) -> tuple[Any, dict[str, Any]]:
    """The participant and the link's columns, or every error at once."""
    errors: list[FieldError] = []
    relationship = new.relationship if new.relationship in RELATIONSHIPS else ""
    participant = _participant(new.participant_id, relationship, errors)
    if not relationship:
        errors.append(
            FieldError(
                "relationship",
                "asset.link_relationship",
                "Select the relationship: legal owner, operator or controlling provider.",
            )
        )
    contract, contract_errors = _text(
        new.contract_reference, "contract_reference", "contract reference"
    )
    consent, consent_errors = _text(new.consent_reference, "consent_reference", "consent reference")
    errors += contract_errors + consent_errors
    if (
        relationship == Relationship.CONTROLLER
        and asset.domestic
        and not consent
        and not consent_errors
    ):
        errors.append(
            FieldError(
                "consent_reference",
                "asset.consent_required",
                "Enter the consumer's consent reference: the site is a home, and a provider "
                "controls a household's asset only with the consumer's consent.",
            )
        )
    today = timezone.localdate()
    valid_from = new.valid_from or today
    if valid_from < today:
        errors.append(
            FieldError(
                "valid_from",
                "asset.link_start_in_past",
                # Today or later: so never before the asset was registered either.
                "Enter a start date that is today or later: past periods are not rewritten.",
            )
        )
    if new.valid_to is not None and new.valid_to <= valid_from:
        errors.append(
            FieldError(
                "valid_to",
                "asset.link_end_before_start",
                "Enter an end date after the start date (the link ends at the start of that day).",
            )
        )
    if errors:
        raise ValidationFailed(errors, detail=f"{len(errors)} field(s) are not valid.")
    lower = max(day_start(valid_from), asset.created_at)
    upper = day_start(new.valid_to) if new.valid_to is not None else None
    return participant, {
        "relationship": relationship,
        "contract_reference": contract,
        "consent_reference": consent,
        "valid_during": DateTimeTZRange(lower, upper, "[)"),
    }


def field_errors(asset: Asset, new: NewLink) -> list[FieldError]:
    """What :func:`add_link` would refuse in the fields themselves (a read: nothing is
    locked or written), for a form that could not even read some of its dates."""
    try:
        _checked(asset, new)
    except ValidationFailed as exc:
        return list(exc.errors)
    return []


def _overlapping(asset: Asset, period: DateTimeTZRange) -> Q:
    return Q(asset=asset, valid_during__overlap=period)


def _refuse_same(asset: Asset, participant: Any, fields: dict[str, Any]) -> None:
    same = (
        AssetLink.objects.filter(_overlapping(asset, fields["valid_during"]))
        .filter(participant=participant, relationship=fields["relationship"])
        .order_by("valid_during")
        .first()
    )
    if same is None:
        return
    label = RELATIONSHIPS[fields["relationship"]].lower()
    raise DomainError(
        code="asset.link_exists",
        detail=f"{participant.participant_id} is already linked to asset {asset.asset_id} as "
        f"{label} {_period(same.valid_during.lower, same.valid_during.upper)}.",
        status=409,
        title=_CONFLICT,
        errors=[FieldError("participant_id", "asset.link_exists", f"Already linked as {label}.")],
        extra={"link_id": str(same.public_id)},
    )


def controller_overlap(asset: Asset, period: DateTimeTZRange) -> DomainError | None:
    """409 ``asset.controller_overlap`` naming the controller whose period overlaps, if any."""
    other = (
        AssetLink.objects.filter(_overlapping(asset, period))
        .filter(relationship=Relationship.CONTROLLER)
        .select_related("participant")
        .order_by("valid_during")
        .first()
    )
    if other is None:
        return None
    lower, upper = other.valid_during.lower, other.valid_during.upper
    when = _period(lower, upper)
    message = (
        f"{other.participant.participant_id} controls asset {asset.asset_id} {when}: one "
        "controlling provider at a time. End its link first (a switch on a day ends the old link "
        "and starts the new one on that day)."
    )
    return DomainError(
        code="asset.controller_overlap",
        detail=message,
        status=409,
        title=_CONFLICT,
        errors=[FieldError("valid_from", "asset.controller_overlap", message)],
        extra={
            "controller": {
                "participant_id": other.participant.participant_id,
                "valid_from": first_day(other),
                "valid_to": last_day(other),
            }
        },
    )


def _locked(acting: Acting, asset_id: str) -> Asset:
    """An asset the caller may see, locked for a link change (``FOR NO KEY UPDATE``: see
    ``selectors.for_update``); 404 otherwise."""
    return selectors.for_update(acting, asset_id, no_key=True)


def _constraint(exc: IntegrityError) -> str:
    diag = getattr(exc.__cause__, "diag", None)
    return str(getattr(diag, "constraint_name", "") or "")


def add_link(acting: Acting, asset_id: str, new: NewLink) -> AssetLink:
    """Link a participant to an asset in service for a period. The caller maintains the asset
    (``selectors.may_maintain``); the participant is active (a controller holds a qualified
    FSP, aggregator or supplier role, and on a home's asset gives the consumer's consent,
    checked with the consent service before anything is written, as at registration)."""
    _consent_now(acting, asset_id, new)
    return _add_link(acting, asset_id, new)


def _consent_now(acting: Acting, asset_id: str, new: NewLink) -> None:
    """A new controller's consent reference for a home's asset, checked in real time (outside
    the transaction: no lock is held while the service answers). Refused at once
    (``consent.ConsentRefused``, 422 at ``consent_reference``) when the service does not know
    it, or says it is revoked, expired or for another meter point; a service that is down or
    not configured leaves it to be recorded as given, as before. Only a request that nothing
    else refuses reaches the service: anything the transaction would refuse (permission, an
    asset the caller may not see or maintain, one not in service, the fields) is left to it,
    so the check tells nothing to a caller who may not link the asset."""
    if not consent.configured() or not (acting.has(REGISTER) or acting.has(REVIEW)):
        return
    asset = selectors.visible(acting).filter(asset_id=selectors.normalise_asset_id(asset_id))
    found = asset.first()
    if (
        found is None
        or not found.domestic
        or found.status not in IN_SERVICE
        or not selectors.may_maintain(acting, found)
    ):
        return
    try:
        participant, fields = _checked(found, new)
        _refuse_same(found, participant, fields)
    except DomainError:
        return
    if fields["relationship"] != Relationship.CONTROLLER or not fields["consent_reference"]:
        return
    if controller_overlap(found, fields["valid_during"]) is not None:
        return  # the transaction answers 409
    mpans = [m for m in (found.import_mpan, found.export_mpan) if m]
    consent.check_now(fields["consent_reference"], mpans, field="consent_reference")


@transaction.atomic
def _add_link(acting: Acting, asset_id: str, new: NewLink) -> AssetLink:
    _require_writer(acting)
    asset = _locked(acting, asset_id)
    if asset.status not in IN_SERVICE:
        raise DomainError(
            code="asset.not_in_service",
            detail=f"Asset {asset.asset_id} is {asset.get_status_display().lower()}: parties are "
            "linked only to an asset in service.",
            status=409,
            title=_CONFLICT,
        )
    if not selectors.may_maintain(acting, asset):
        raise _not_linked()
    participant, fields = _checked(asset, new)
    _refuse_same(asset, participant, fields)
    if fields["relationship"] == Relationship.CONTROLLER:
        overlap = controller_overlap(asset, fields["valid_during"])
        if overlap is not None:
            raise overlap
    try:
        with transaction.atomic():
            link = AssetLink.objects.create(
                asset=asset, participant=participant, created_at=timezone.now(), **fields
            )
    except IntegrityError as exc:
        # Another writer that did not lock the asset committed an overlapping controller.
        if _constraint(exc) != OVERLAP_CONSTRAINT:
            raise
        raise controller_overlap(asset, fields["valid_during"]) or DomainError(
            code="asset.controller_overlap",
            detail="Another provider controls the asset in that period.",
            status=409,
            title=_CONFLICT,
        ) from exc
    link.participant = participant
    audit.record(
        acting,
        "asset.link_added",
        object_type="asset",
        object_id=asset.asset_id,
        subject_participant_id=participant.participant_id,
        after={
            "link": str(link.public_id),
            "participant_id": participant.participant_id,
            "relationship": link.relationship,
            "valid_from": first_day(link),
            "valid_to": last_day(link),
            "contract_reference": link.contract_reference,
            "consent_reference": link.consent_reference,
        },
        personal=["consent_reference"],
    )
    transaction.on_commit(lambda: _tell_linked(asset, link, acting), robust=True)
    return link


# --- ending a link ------------------------------------------------------------------------------


def link_for_update(acting: Acting, asset: Asset, link_id: str | uuid.UUID) -> AssetLink:
    """A link of an asset the caller sees, locked; 404 for anything else (a malformed ID too)."""
    try:
        public_id = link_id if isinstance(link_id, uuid.UUID) else uuid.UUID(str(link_id))
    except ValueError:
        raise NotFound(f"No link {str(link_id)[:40]} of asset {asset.asset_id}.") from None
    found = (
        AssetLink.objects.select_for_update(of=("self",))
        .select_related("participant")
        .filter(asset=asset, public_id=public_id)
        .first()
    )
    if found is None:
        raise NotFound(f"No link {public_id} of asset {asset.asset_id}.")
    return found


def _others_remain(asset: Asset, link: AssetLink, end: dt.datetime) -> bool:
    """Whether another unsuspended link of the asset is in force at ``end`` or later."""
    return (
        AssetLink.objects.filter(asset=asset, suspended_at__isnull=True)
        .exclude(pk=link.pk)
        .filter(Q(valid_during__upper_inf=True) | Q(valid_during__endswith__gt=end))
        .exists()
    )


@transaction.atomic
def end_link(
    acting: Acting, asset_id: str, link_id: str | uuid.UUID, valid_to: dt.date | None, reason: str
) -> AssetLink:
    """End a link at the start of ``valid_to`` (default today): by a maintainer of the asset or
    by the linked participant itself. The last link in force of an asset in service is not
    ended (decommission the asset instead)."""
    _require_writer(acting)
    asset = _locked(acting, asset_id)
    link = link_for_update(acting, asset, link_id)
    maintainer = selectors.may_maintain(acting, asset)
    own = acting.participant_pk is not None and acting.participant_pk == link.participant_id
    if not (own or maintainer):
        raise _not_linked()
    now = timezone.now()
    upper = link.valid_during.upper
    if upper is not None and upper <= now:
        raise DomainError(
            code="asset.link_ended",
            detail=f"This link ended on {timezone.localdate(upper):%-d %B %Y}.",
            status=409,
            title=_CONFLICT,
        )
    reason, errors = reason_errors(reason)
    today = timezone.localdate()
    on = valid_to or today
    started = first_day(link) or today
    if on < today:
        errors.append(
            FieldError(
                "valid_to",
                "asset.link_end_in_past",
                "Enter an end date that is today or later: past periods are not rewritten.",
            )
        )
    elif on <= started:
        errors.append(
            FieldError(
                "valid_to",
                "asset.link_end_before_start",
                f"Enter an end date after the link started ({started:%-d %B %Y}).",
            )
        )
    elif upper is not None and day_start(on) >= upper:
        errors.append(
            FieldError(
                "valid_to",
                "asset.link_end_later",
                f"The link already ends on {timezone.localdate(upper):%-d %B %Y}: enter an "
                "earlier date.",
            )
        )
    if errors:
        raise ValidationFailed(errors, detail=f"{len(errors)} field(s) are not valid.")
    end = day_start(on)
    if asset.status in IN_SERVICE and not _others_remain(asset, link, end):
        raise DomainError(
            code="asset.last_link",
            detail=f"This is the last party linked to asset {asset.asset_id} from "
            f"{on:%-d %B %Y}: link another party first, or decommission the asset if it is no "
            "longer in service.",
            status=409,
            title=_CONFLICT,
            errors=[FieldError("valid_to", "asset.last_link", "Link another party first.")],
        )
    before_to = last_day(link)
    link.valid_during = DateTimeTZRange(link.valid_during.lower, end, "[)")
    link.save(update_fields=["valid_during"])
    audit.record(
        acting,
        "asset.link_ended",
        object_type="asset",
        object_id=asset.asset_id,
        subject_participant_id=link.participant.participant_id,
        before={"valid_to": before_to},
        after={
            "link": str(link.public_id),
            "participant_id": link.participant.participant_id,
            "relationship": link.relationship,
            "valid_to": on,
            "reason": reason,
        },
        only_changed=False,
    )
    told = _current_parties(asset, now) | {link.participant_id}
    transaction.on_commit(lambda: _tell_ended(asset, link, on, reason, told, acting), robust=True)
    return link


def _current_parties(asset: Asset, now: dt.datetime) -> set[int]:
    return set(
        AssetLink.objects.filter(asset=asset, valid_during__contains=now).values_list(
            "participant_id", flat=True
        )
    )


# --- telling the parties ------------------------------------------------------------------------


def _recipients(participant_pks: Iterable[int], acting: Acting) -> list[int]:
    from flexreg.assets.validators.consent import provider_recipients

    users: set[int] = set()
    for pk in sorted(set(participant_pks)):
        users.update(provider_recipients(pk))
    users.discard(acting.user_id or 0)
    return sorted(users)


def _tell_linked(asset: Asset, link: AssetLink, acting: Acting) -> None:
    from flexreg.notifications.services import notify

    starts = first_day(link)
    notify(
        LINKED_KIND,
        _recipients([link.participant_id], acting),
        subject=f"Linked to an asset: {asset.name} ({asset.asset_id})",
        context={
            "asset_id": asset.asset_id,
            "asset_name": asset.name,
            "participant_id": link.participant.participant_id,
            "relationship": RELATIONSHIPS.get(link.relationship, link.relationship),
            "valid_from": starts,
            "valid_to": last_day(link),
            "starts_later": starts is not None and starts > timezone.localdate(),
            "by": acting.participant_id or "the central operator",
        },
        link=f"/assets/{asset.asset_id}/",
        participant_id=link.participant.participant_id,
        dedupe_key=f"{LINKED_KIND}:{link.public_id}",
    )


def _tell_ended(
    asset: Asset, link: AssetLink, on: dt.date, reason: str, parties: set[int], acting: Acting
) -> None:
    from flexreg.notifications.services import notify

    notify(
        LINK_ENDED_KIND,
        _recipients(parties, acting),
        subject=f"Link ended: {link.participant.participant_id} and {asset.name} "
        f"({asset.asset_id})",
        context={
            "asset_id": asset.asset_id,
            "asset_name": asset.name,
            "participant_id": link.participant.participant_id,
            "relationship": RELATIONSHIPS.get(link.relationship, link.relationship),
            "valid_to": on,
            "reason": reason,
        },
        link=f"/assets/{asset.asset_id}/",
        dedupe_key=f"{LINK_ENDED_KIND}:{link.public_id}:{on.isoformat()}",
    )
