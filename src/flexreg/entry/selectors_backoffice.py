"""The central operator's back office for market entry: permission-scoped reads.

Queues (information reviews, cases awaiting a final decision, escalations), each aged against
the service level of the case's rules (``service_levels.review_working_days``, counted in
working days that skip weekends and the rules' bank holidays), the case list and case detail,
and the dashboard's figures. Reading needs ``entry:read_all`` (the central operator and the
oversight roles); acting on what is read needs ``entry:review`` (``services_backoffice`` and
``entry.services``).

Every list is keyset-paginated (oldest first) and runs a fixed number of queries whatever the
number of rows: the service levels of all rule versions (one query), the count, the page.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.contrib.auth import get_user_model
from django.db.models import (
    Aggregate,
    Count,
    Exists,
    F,
    FloatField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from flexreg.core import permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import FieldError, NotFound, ValidationFailed
from flexreg.core.roles import ROLES
from flexreg.entry.models import (
    OPEN_CASE_STATES,
    Answer,
    AnswerStatus,
    CaseStatus,
    CheckRun,
    EntryCase,
    InformationRequest,
    RequestStatus,
    RuleSetVersion,
)
from flexreg.entry.ruleset import PARTICIPANT_KINDS, SELF_REQUESTABLE
from flexreg.entry.working_days import add_working_days, holidays, working_days_between
from flexreg.identifiers.errors import IdentifierError
from flexreg.identifiers.flexreg_id import ParticipantId
from flexreg.participants import selectors as participant_selectors
from flexreg.participants import selectors_recipients as recipients

READ = "entry:read_all"
REVIEW = "entry:review"
MAX_PAGE = 100
DEFAULT_PAGE = 50
DEFAULT_SLA = 2
VERIFICATION_QUEUE_URL = "/operator/verifications/"

WITHIN = "within"
DUE_TODAY = "due_today"
BREACHED = "breached"
AGEING_LABELS = {WITHIN: "Within", DUE_TODAY: "Due today", BREACHED: "Breached"}

# Requests that still stop a case from being decided.
_UNFINISHED = (
    RequestStatus.WAITING,
    RequestStatus.OPEN,
    RequestStatus.CHECKING,
    RequestStatus.ANSWERED,
)
# Cases on which requests may still be open (ad hoc requests reach qualified cases too).
_LIVE_CASES = (*OPEN_CASE_STATES, CaseStatus.QUALIFIED)

T = TypeVar("T")


def can_read(acting: Acting) -> None:
    permissions.require(acting, READ)


# --- service levels and ageing --------------------------------------------------------------


@dataclass(frozen=True)
class ServiceLevel:
    review_working_days: int
    bank_holidays: frozenset[dt.date]


def service_level_of(content: Mapping[str, Any] | None) -> ServiceLevel:
    """The review service level in a compiled rule set (or its ``service_levels`` table)."""
    levels = (content or {}).get("service_levels", content) or {}
    try:
        days = int(levels.get("review_working_days") or DEFAULT_SLA)
    except (TypeError, ValueError):
        days = DEFAULT_SLA
    return ServiceLevel(max(days, 1), holidays(levels.get("bank_holidays") or ()))


def service_levels() -> dict[int, ServiceLevel]:
    """Every rule version's review service level, by the version's primary key (one query)."""
    rows = RuleSetVersion.objects.values_list("pk", "content__service_levels")
    return {
        pk: service_level_of(levels if isinstance(levels, Mapping) else {}) for pk, levels in rows
    }


@dataclass(frozen=True)
class Ageing:
    """How long an item has waited, in working days, against its service level."""

    since: dt.datetime
    working_days: int
    sla_working_days: int
    due_on: dt.date
    status: str  # within | due_today | breached

    @property
    def label(self) -> str:
        return AGEING_LABELS[self.status]


def ageing(since: dt.datetime, level: ServiceLevel, now: dt.datetime | None = None) -> Ageing:
    """Age ``since`` against ``level``: due on the ``review_working_days``-th working day after
    it; breached from the next calendar day (London time)."""
    now = now or timezone.now()
    due_on = timezone.localdate(
        add_working_days(since, level.review_working_days, level.bank_holidays)
    )
    today = timezone.localdate(now)
    status = WITHIN if today < due_on else DUE_TODAY if today == due_on else BREACHED
    return Ageing(
        since=since,
        working_days=max(0, working_days_between(since, now, level.bank_holidays)),
        sla_working_days=level.review_working_days,
        due_on=due_on,
        status=status,
    )


def _start_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _breached_before(level: ServiceLevel, today: dt.date) -> dt.datetime:
    """Items waiting since before this moment have breached ``level`` by ``today``: the start of
    the day after the last day whose due date is already past."""
    day = today
    while add_working_days(day, level.review_working_days, level.bank_holidays) >= today:
        day -= dt.timedelta(days=1)
    return _start_of_day(day + dt.timedelta(days=1))


def _breached_q(levels: Mapping[int, ServiceLevel], now: dt.datetime) -> Q:
    """Rows (annotated ``since`` and ``version_pk``) that breach their rules' service level."""
    today = timezone.localdate(now)
    by_cutoff: dict[dt.datetime, list[int]] = {}
    for pk, level in levels.items():
        by_cutoff.setdefault(_breached_before(level, today), []).append(pk)
    q = Q(pk__in=[])
    for cutoff, pks in by_cutoff.items():
        q |= Q(version_pk__in=pks, since__lt=cutoff)
    return q


# --- filters and pages ----------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    role: str = ""
    kind: str = ""  # participant kind: organisation | individual | non_uk
    assigned: str = ""  # "" (anyone) | "me" | "unassigned" | a reviewer's email address
    overdue: bool = False  # only items that breach the service level
    q: str = ""  # participant name or Participant ID
    status: str = ""  # case status (the case list only)


ROLE_CHOICES = [(code, ROLES[code].name) for code in SELF_REQUESTABLE]
KIND_CHOICES = [
    ("organisation", "Organisation"),
    ("individual", "Private individual"),
    ("non_uk", "Organisation outside the UK"),
]
CASE_STATUS_CHOICES = [(s.value, str(s.label)) for s in CaseStatus]
assert {k for k, _ in KIND_CHOICES} == set(PARTICIPANT_KINDS)


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
    total: int


def _encode_cursor(since: dt.datetime, public_id: uuid.UUID) -> str:
    raw = f"{since.isoformat()}|{public_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, key = raw.split("|", 1)
        since = dt.datetime.fromisoformat(when)
        if since.tzinfo is None:
            raise ValueError("naive")
        return since, uuid.UUID(key)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            [FieldError("cursor", "cursor_invalid", "This page link is not valid: start again.")]
        ) from None


def _limit(limit: int | None) -> int:
    return max(1, min(int(limit or DEFAULT_PAGE), MAX_PAGE))


def _page(
    qs: QuerySet[Any], cursor: str | None, limit: int | None
) -> tuple[list[Any], str | None, int]:
    """A keyset page over rows annotated with ``since``, oldest first (ties by public id)."""
    size = _limit(limit)
    total = qs.count()
    if cursor:
        since, key = _decode_cursor(cursor)
        qs = qs.filter(Q(since__gt=since) | Q(since=since, public_id__gt=key))
    rows = list(qs.order_by("since", "public_id")[: size + 1])
    next_cursor = None
    if len(rows) > size:
        last = rows[size - 1]
        next_cursor = _encode_cursor(last.since, last.public_id)
    return rows[:size], next_cursor, total


def _filtered(
    qs: QuerySet[Any],
    acting: Acting,
    filters: Filters,
    case: str,
    levels: Mapping[int, ServiceLevel],
    now: dt.datetime,
) -> QuerySet[Any]:
    """Apply the queue filters; ``case`` is the path from the row to its EntryCase."""
    if filters.role:
        qs = qs.filter(**{f"{case}participant_role__role": filters.role})
    if filters.kind:
        qs = qs.filter(**{f"{case}participant_kind": filters.kind})
    if filters.status:
        qs = qs.filter(**{f"{case}status": filters.status})
    text = filters.q.strip()
    if text:
        participant = f"{case}participant_role__participant__"
        qs = qs.filter(
            Q(**{f"{participant}legal_name__icontains": text})
            | Q(**{f"{participant}trading_name__icontains": text})
            | Q(**{f"{participant}participant_id__icontains": text.replace(" ", "")})
            | Q(**{f"{participant}participant_id": _participant_id(text)})
        )
    assigned = filters.assigned.strip()
    if assigned == "me":
        qs = qs.filter(assignee_pk=acting.user_id) if acting.user_id else qs.none()
    elif assigned == "unassigned":
        qs = qs.filter(assignee_pk__isnull=True)
    elif assigned:
        users = get_user_model().objects.filter(email__iexact=assigned).values("pk")
        qs = qs.filter(assignee_pk__in=Subquery(users))
    if filters.overdue:
        qs = qs.filter(_breached_q(levels, now))
    return qs


def _participant_id(text: str) -> str:
    try:
        return ParticipantId.parse(text).value
    except IdentifierError:
        return ""


def _level(levels: Mapping[int, ServiceLevel], pk: int) -> ServiceLevel:
    return levels.get(pk) or ServiceLevel(DEFAULT_SLA, frozenset())


# --- queue (a): information reviews ---------------------------------------------------------


@dataclass
class ReviewItem:
    """An answer (or a failed external check's outcome) waiting for the operator's review."""

    answer: Answer
    request: InformationRequest
    case: EntryCase
    ageing: Ageing
    assignee: Any  # the request's reviewer, else the case's (a User) or None

    @property
    def check_failed(self) -> bool:
        return bool(self.answer.check_outcome) and self.answer.check_outcome.get("status") != (
            CheckRun.Status.PASSED
        )


def _reviews() -> QuerySet[Answer]:
    return (
        Answer.objects.filter(
            status=AnswerStatus.PENDING_REVIEW,
            request__status=RequestStatus.ANSWERED,
            request__case__status__in=_LIVE_CASES,
        )
        .annotate(
            since=F("submitted_at"),
            version_pk=F("request__case__rule_version_id"),
            assignee_pk=Coalesce("request__assigned_to_id", "request__case__assigned_to_id"),
        )
        .select_related(
            "request__case__participant_role__participant",
            "request__assigned_to",
            "request__case__assigned_to",
            "document",
            "submitted_by",
        )
    )


def review_queue(
    acting: Acting,
    filters: Filters | None = None,
    *,
    cursor: str | None = None,
    limit: int | None = None,
    now: dt.datetime | None = None,
) -> Page[ReviewItem]:
    can_read(acting)
    now = now or timezone.now()
    levels = service_levels()
    qs = _filtered(_reviews(), acting, filters or Filters(), "request__case__", levels, now)
    rows, next_cursor, total = _page(qs, cursor, limit)
    items = [
        ReviewItem(
            answer=a,
            request=a.request,
            case=a.request.case,
            ageing=ageing(a.submitted_at, _level(levels, a.version_pk), now),
            assignee=a.request.assigned_to or a.request.case.assigned_to,
        )
        for a in rows
    ]
    return Page(items, next_cursor, total)


# --- queue (b): cases awaiting the final decision -------------------------------------------


@dataclass
class CaseItem:
    case: EntryCase
    ageing: Ageing


def _awaiting_decision() -> QuerySet[EntryCase]:
    required = InformationRequest.objects.filter(case=OuterRef("pk"), required=True)
    last_accepted = (
        required.filter(status=RequestStatus.ACCEPTED)
        .order_by()
        .values("case")
        .annotate(last=Max("accepted_at"))
        .values("last")
    )
    return (
        EntryCase.objects.filter(status=CaseStatus.UNDER_REVIEW)
        .filter(Exists(required.filter(status=RequestStatus.ACCEPTED)))
        .exclude(Exists(required.filter(status__in=_UNFINISHED)))
        .annotate(
            since=Coalesce(Subquery(last_accepted), "submitted_at", "status_changed_at"),
            version_pk=F("rule_version_id"),
            assignee_pk=F("assigned_to_id"),
        )
        .select_related("participant_role__participant", "assigned_to", "rule_version")
        .defer("rule_version__content")
    )


def case_queue(
    acting: Acting,
    filters: Filters | None = None,
    *,
    cursor: str | None = None,
    limit: int | None = None,
    now: dt.datetime | None = None,
) -> Page[CaseItem]:
    """Cases under review with every required step accepted: ready since the last acceptance."""
    can_read(acting)
    now = now or timezone.now()
    levels = service_levels()
    qs = _filtered(_awaiting_decision(), acting, filters or Filters(), "", levels, now)
    rows, next_cursor, total = _page(qs, cursor, limit)
    items = [CaseItem(c, ageing(c.since, _level(levels, c.rule_version_id), now)) for c in rows]
    return Page(items, next_cursor, total)


# --- queue (c): escalations -----------------------------------------------------------------


@dataclass
class EscalationItem:
    request: InformationRequest
    case: EntryCase
    ageing: Ageing
    assignee: Any


def _escalations() -> QuerySet[InformationRequest]:
    return (
        InformationRequest.objects.filter(
            escalated_at__isnull=False,
            status=RequestStatus.OPEN,
            case__status__in=_LIVE_CASES,
        )
        .annotate(
            since=F("escalated_at"),
            version_pk=F("case__rule_version_id"),
            assignee_pk=Coalesce("assigned_to_id", "case__assigned_to_id"),
        )
        .select_related("case__participant_role__participant", "assigned_to", "case__assigned_to")
    )


def escalation_queue(
    acting: Acting,
    filters: Filters | None = None,
    *,
    cursor: str | None = None,
    limit: int | None = None,
    now: dt.datetime | None = None,
) -> Page[EscalationItem]:
    """Overdue requests escalated to the central operator and still not answered."""
    can_read(acting)
    now = now or timezone.now()
    levels = service_levels()
    qs = _filtered(_escalations(), acting, filters or Filters(), "case__", levels, now)
    rows, next_cursor, total = _page(qs, cursor, limit)
    items = [
        EscalationItem(
            request=r,
            case=r.case,
            ageing=ageing(r.escalated_at, _level(levels, r.version_pk), now),
            assignee=r.assigned_to or r.case.assigned_to,
        )
        for r in rows
    ]
    return Page(items, next_cursor, total)


# --- the queues at a glance -----------------------------------------------------------------


@dataclass(frozen=True)
class QueueCount:
    key: str
    title: str
    url: str
    total: int | None  # None: the acting role may not see this queue
    breached: int | None = None


def verification_reviews_waiting(acting: Acting) -> int | None:
    """Verifications waiting for the operator (their own queue, participants app); None when
    the acting role may not review verifications."""
    if not acting.has("verification:review"):
        return None
    return participant_selectors.review_queue(acting).count()


def queue_counts(acting: Acting, now: dt.datetime | None = None) -> list[QueueCount]:
    can_read(acting)
    now = now or timezone.now()
    levels = service_levels()
    breached = _breached_q(levels, now)
    out = []
    for key, title, qs in (
        ("reviews", "Information reviews", _reviews()),
        ("cases", "Cases awaiting a decision", _awaiting_decision()),
        ("escalations", "Escalations", _escalations()),
    ):
        out.append(
            QueueCount(
                key,
                title,
                f"/operator/entry/queues/{key}/",
                qs.count(),
                qs.filter(breached).count(),
            )
        )
    out.append(
        QueueCount(
            "verifications",
            "Verification reviews",
            VERIFICATION_QUEUE_URL,
            verification_reviews_waiting(acting),
        )
    )
    return out


# --- reviewers ------------------------------------------------------------------------------


def reviewers() -> list[Any]:
    """Central operator users who may review (the people work can be assigned to)."""
    ids = recipients.operators(REVIEW)
    return list(get_user_model().objects.filter(pk__in=ids).order_by("full_name", "email"))


# --- the case list and one case -------------------------------------------------------------


def case_list(
    acting: Acting,
    filters: Filters | None = None,
    *,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[EntryCase]:
    """Every case, oldest first, filtered (status, role, kind, assignee, participant)."""
    can_read(acting)
    f = filters or Filters()
    qs = (
        EntryCase.objects.annotate(since=F("created_at"), assignee_pk=F("assigned_to_id"))
        .select_related("participant_role__participant", "assigned_to", "rule_version")
        .defer("rule_version__content")
    )
    now = timezone.now()
    qs = _filtered(qs, acting, Filters(**{**f.__dict__, "overdue": False}), "", {}, now)
    rows, next_cursor, total = _page(qs, cursor, limit)
    return Page(rows, next_cursor, total)


def _uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound() from None


def case_detail(acting: Acting, case_id: object) -> EntryCase:
    """One case with every request (cancelled ones too), each with its full history of answers
    (newest first, documents and reviewers loaded) and its external check runs."""
    can_read(acting)
    answers = Answer.objects.select_related("document", "submitted_by", "reviewed_by").order_by(
        "-submitted_at", "-pk"
    )
    requests = (
        InformationRequest.objects.select_related("assigned_to", "raised_by")
        .prefetch_related(
            Prefetch("answers", queryset=answers),
            Prefetch("checks", queryset=CheckRun.objects.order_by("-created_at", "-pk")),
        )
        .order_by("position", "pk")
    )
    found = (
        EntryCase.objects.select_related(
            "participant_role__participant", "rule_version", "assigned_to"
        )
        .prefetch_related(Prefetch("requests", queryset=requests))
        .filter(public_id=_uuid(case_id))
        .first()
    )
    if found is None:
        raise NotFound("No such market-entry case.")
    return found


def awaiting_decision(case: EntryCase) -> bool:
    """Every required step accepted and the case under review (the requests prefetched)."""
    required = [r for r in case.requests.all() if r.required]
    return (
        case.status == CaseStatus.UNDER_REVIEW
        and any(r.status == RequestStatus.ACCEPTED for r in required)
        and not any(r.status in _UNFINISHED for r in required)
    )


def case_of(acting: Acting, case_id: object) -> EntryCase:
    """One case (no requests loaded): for actions on it."""
    can_read(acting)
    found = (
        EntryCase.objects.select_related("participant_role__participant", "rule_version")
        .filter(public_id=_uuid(case_id))
        .first()
    )
    if found is None:
        raise NotFound("No such market-entry case.")
    return found


def request_of_case(acting: Acting, request_id: object) -> InformationRequest:
    can_read(acting)
    found = (
        InformationRequest.objects.select_related(
            "case__participant_role__participant", "case__rule_version", "assigned_to", "raised_by"
        )
        .filter(public_id=_uuid(request_id))
        .first()
    )
    if found is None:
        raise NotFound("No such information request.")
    return found


def answer_of_case(acting: Acting, answer_id: object) -> Answer:
    can_read(acting)
    found = (
        Answer.objects.select_related(
            "request__case__participant_role__participant",
            "document",
            "submitted_by",
            "reviewed_by",
        )
        .filter(public_id=_uuid(answer_id))
        .first()
    )
    if found is None:
        raise NotFound("No such answer.")
    return found


def requests_of_answers(acting: Acting, answer_ids: Iterable[str]) -> dict[str, str]:
    """The request each answer belongs to: ``{answer id: request id}`` (unknown ids left out)."""
    can_read(acting)
    keys = []
    for raw in answer_ids:
        try:
            keys.append(uuid.UUID(str(raw)))
        except ValueError:
            continue
    rows = Answer.objects.filter(public_id__in=keys).values_list("public_id", "request__public_id")
    return {str(a): str(r) for a, r in rows}


def item_labels(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Readable labels for the items of a bulk action's result: ``(kind, id)`` -> label."""
    wanted: dict[str, list[uuid.UUID]] = {"answer": [], "request": [], "case": []}
    for kind, raw in items:
        try:
            wanted.setdefault(kind, []).append(uuid.UUID(str(raw)))
        except ValueError:
            continue
    labels: dict[str, str] = {}
    path = "participant_role__participant__legal_name"
    for pk, name, role, title in Answer.objects.filter(public_id__in=wanted["answer"]).values_list(
        "public_id",
        f"request__case__{path}",
        "request__case__participant_role__role",
        "request__title",
    ):
        labels[str(pk)] = f"{name} ({role}): {title}"
    for pk, name, role, title in InformationRequest.objects.filter(
        public_id__in=wanted["request"]
    ).values_list("public_id", f"case__{path}", "case__participant_role__role", "title"):
        labels[str(pk)] = f"{name} ({role}): {title}"
    for pk, name, role in EntryCase.objects.filter(public_id__in=wanted["case"]).values_list(
        "public_id", path, "participant_role__role"
    ):
        labels[str(pk)] = f"{name} ({role})"
    return labels


# --- the dashboard --------------------------------------------------------------------------


class _PercentileDays(Aggregate):
    """``percentile_cont`` of an interval, in days (PostgreSQL's ordered-set aggregate)."""

    function = "percentile_cont"
    name = "PercentileDays"
    template = (
        "%(function)s(%(fraction)s) WITHIN GROUP "
        "(ORDER BY EXTRACT(EPOCH FROM (%(expressions)s)) / 86400.0)"
    )
    output_field = FloatField()

    def __init__(self, fraction: float, expression: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, fraction=repr(float(fraction)))


@dataclass(frozen=True)
class RoleStates:
    role: str
    name: str
    counts: dict[str, int]
    total: int


@dataclass(frozen=True)
class TimeToQualify:
    role: str
    name: str
    qualified: int
    median_days: float | None
    p90_days: float | None


@dataclass
class Dashboard:
    states: list[tuple[str, str]]  # (status, label) in lifecycle order
    by_role: list[RoleStates]
    totals: dict[str, int]
    time_to_qualify: list[TimeToQualify]
    overdue_requests: int
    escalations_open: int
    verification_reviews: int | None
    reviews_waiting: int
    answers_breaching_sla: int
    cases_awaiting_decision: int
    cases_breaching_sla: int
    generated_at: dt.datetime = field(default_factory=timezone.now)


def _role_order(codes: Iterable[str]) -> list[str]:
    order = list(ROLES)
    return sorted(set(codes), key=lambda c: order.index(c) if c in order else len(order))


def dashboard(acting: Acting, now: dt.datetime | None = None) -> Dashboard:
    """The entry process in figures: cases by state per role, time from registration to
    qualified per role (median and 90th percentile, in days), and the work waiting."""
    can_read(acting)
    now = now or timezone.now()
    counts: dict[str, dict[str, int]] = {}
    for role, status, n in (
        EntryCase.objects.values_list("participant_role__role", "status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        counts.setdefault(role, {})[status] = n
    states = [(s.value, s.label) for s in CaseStatus]
    by_role = [
        RoleStates(
            role,
            ROLES[role].name if role in ROLES else role,
            {s: counts[role].get(s, 0) for s, _ in states},
            sum(counts[role].values()),
        )
        for role in _role_order(counts)
    ]
    totals = {s: sum(r.counts[s] for r in by_role) for s, _ in states}
    totals["all"] = sum(r.total for r in by_role)
    waited = F("qualified_at") - F("participant_role__participant__created_at")
    times = {
        row["participant_role__role"]: row
        for row in EntryCase.objects.filter(qualified_at__isnull=False)
        .values("participant_role__role")
        .annotate(
            n=Count("pk"),
            median=_PercentileDays(0.5, waited),
            p90=_PercentileDays(0.9, waited),
        )
        .order_by()
    }
    time_to_qualify = [
        TimeToQualify(
            role,
            ROLES[role].name if role in ROLES else role,
            times[role]["n"],
            _days(times[role]["median"]),
            _days(times[role]["p90"]),
        )
        for role in _role_order(times)
    ]
    levels = service_levels()
    breached = _breached_q(levels, now)
    reviews = _reviews()
    cases = _awaiting_decision()
    return Dashboard(
        states=states,
        by_role=by_role,
        totals=totals,
        time_to_qualify=time_to_qualify,
        overdue_requests=InformationRequest.objects.filter(
            status=RequestStatus.OPEN, due_at__lt=now
        ).count(),
        escalations_open=_escalations().count(),
        verification_reviews=verification_reviews_waiting(acting),
        reviews_waiting=reviews.count(),
        answers_breaching_sla=reviews.filter(breached).count(),
        cases_awaiting_decision=cases.count(),
        cases_breaching_sla=cases.filter(breached).count(),
        generated_at=now,
    )


def _days(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)
