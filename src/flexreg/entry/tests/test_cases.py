"""Market-entry cases follow the rules: opened with the role, steps opened as earlier ones are
accepted, answers reviewed, the case qualified or rejected, the role operational only then."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import individual_payload, organisation_payload
from flexreg.core.acting import Acting
from flexreg.core.errors import Conflict, DomainError, ValidationFailed
from flexreg.entry import services
from flexreg.entry.models import (
    Answer,
    AnswerStatus,
    CaseStatus,
    Document,
    EntryCase,
    InformationRequest,
    RequestStatus,
)
from flexreg.participants.models import Membership, Participant, ParticipantRole, RoleStatus
from flexreg.participants.policies import effective_permissions

pytestmark = pytest.mark.django_db


def _case(participant_id: str, role: str) -> EntryCase:
    return EntryCase.objects.get(
        participant_role__participant__participant_id=participant_id, participant_role__role=role
    )


def _req(case: EntryCase, key: str) -> InformationRequest:
    return case.requests.get(step_key=key)


def _acting_for(user: Any, participant_id: str, role: str) -> Acting:
    m = Membership.objects.get(
        user=user,
        participant_role__participant__participant_id=participant_id,
        participant_role__role=role,
    )
    return _as(m)


def _as(membership: Membership) -> Acting:
    from flexreg.accounts.acting import acting_for

    return acting_for(membership.user, membership, via="session")


def _document(participant_id: str, user: Any, clean: bool = True) -> Document:
    from django.core.files.base import ContentFile

    doc = Document(
        participant=Participant.objects.get(participant_id=participant_id),
        original_name="cert.pdf",
        content_type="application/pdf",
        size=9,
        sha256="0" * 64,
        scan_status=Document.Scan.CLEAN if clean else Document.Scan.PENDING,
        uploaded_by=user,
    )
    doc.file.save("cert.pdf", ContentFile(b"%PDF-1.4\n"), save=False)
    doc.save()
    return doc


def test_a_case_opens_with_each_requested_role_and_waits_for_verification(registered: Any) -> None:
    _, body, _ = registered(organisation_payload(company_number="99000003"))  # to review
    case = _case(body["participant_id"], "FSP")
    assert case.status == CaseStatus.NOT_STARTED
    assert case.rule_version.number >= 1
    verified = _req(case, "organisation_verified")
    assert verified.status == RequestStatus.CHECKING
    assert _req(case, "insurance_certificate").status == RequestStatus.WAITING
    # the technical contact waits for nothing
    assert _req(case, "technical_contact").status == RequestStatus.OPEN
    assert not case.requests.filter(step_key="identity_proven").exists()  # individuals only


def test_fsp_goes_from_verification_to_qualified(registered: Any, operator: Any) -> None:
    user, body, _ = registered()  # 99000001 verifies automatically
    pid = body["participant_id"]
    case = _case(pid, "FSP")
    assert _req(case, "organisation_verified").status == RequestStatus.ACCEPTED
    for key in ("insurance_certificate", "framework_agreement", "technical_contact"):
        assert _req(case, key).status == RequestStatus.OPEN, key
    assert _req(case, "api_connectivity").status == RequestStatus.CHECKING
    held = ParticipantRole.objects.get(participant__participant_id=pid, role="FSP")
    assert held.status == RoleStatus.ACTIVE and held.qualified_at is None
    membership = Membership.objects.get(user=user, participant_role=held)
    assert "market:operate" not in effective_permissions(membership)

    me = _acting_for(user, pid, "FSP")
    services.answer(
        me,
        _req(case, "technical_contact"),
        form_data={"name": "Tom Tech", "email": "tom@example.test", "phone": "+447911123456"},
    )
    assert _req(case, "technical_contact").status == RequestStatus.ACCEPTED  # reviewed by nobody
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PROGRESS

    first = services.answer(me, _req(case, "insurance_certificate"), document=_document(pid, user))
    services.answer(me, _req(case, "framework_agreement"), document=_document(pid, user))
    services.record_connectivity_test(me, user_agent="pytest")
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED

    _, op_membership = operator
    op = _as(op_membership)
    services.review_answer(op, first, "reject", "The certificate has expired.")
    insurance = _req(case, "insurance_certificate")
    assert insurance.status == RequestStatus.OPEN
    assert insurance.last_rejection_reason == "The certificate has expired."
    case.refresh_from_db()
    assert case.status == CaseStatus.CHANGES_REQUESTED

    second = services.answer(me, insurance, document=_document(pid, user))
    case.refresh_from_db()
    assert case.status == CaseStatus.UNDER_REVIEW  # a reviewer has looked at it already
    services.review_answer(op, second, "accept")
    framework = Answer.objects.get(
        request=_req(case, "framework_agreement"), status=AnswerStatus.PENDING_REVIEW
    )
    services.review_answer(op, framework, "accept")
    case.refresh_from_db()
    assert case.status == CaseStatus.UNDER_REVIEW  # FSP rules ask for a final review
    services.decide_case(op, case, "qualify", "All in order.")
    case.refresh_from_db()
    held.refresh_from_db()
    assert case.status == CaseStatus.QUALIFIED and held.qualified_at is not None
    membership.refresh_from_db()
    assert "market:operate" in effective_permissions(membership)


def test_individual_asset_owner_qualifies_without_a_reviewer(registered: Any) -> None:

    user, body, _ = registered(individual_payload(requested_roles=["ASSET_OWNER"]))
    pid = body["participant_id"]
    case = _case(pid, "ASSET_OWNER")
    assert [r.step_key for r in case.requests.order_by("position")] == [
        "identity_proven",
        "asset_owner_declaration",
    ]
    participant = Participant.objects.get(participant_id=pid)
    _prove_identity(participant)
    case.refresh_from_db()
    assert _req(case, "identity_proven").status == RequestStatus.ACCEPTED
    me = _acting_for(user, pid, "ASSET_OWNER")
    with pytest.raises(ValidationFailed) as err:
        services.answer(me, _req(case, "asset_owner_declaration"), form_data={})
    assert err.value.errors[0].code == "entry.confirmation_required"
    services.answer(me, _req(case, "asset_owner_declaration"), form_data={"declaration": True})
    case.refresh_from_db()
    assert case.status == CaseStatus.QUALIFIED


def _prove_identity(participant: Participant) -> None:
    from flexreg.participants import services as participant_services

    participant_services.record_proven_identity(
        Acting.system("tests"),
        participant,
        provider="onelogin",
        level="P2",
        evidence={"vot": "P2"},
    )


def test_a_rejected_case_rejects_the_role_and_keeps_read_access(
    registered: Any, operator: Any
) -> None:
    user, body, _ = registered()
    pid = body["participant_id"]
    case = _case(pid, "FSP")
    op = _as(operator[1])
    with pytest.raises(DomainError) as err:
        services.decide_case(op, case, "qualify", "Too early")
    assert err.value.code == "entry.case_incomplete"
    services.decide_case(op, case, "reject", "Not a flexibility provider.")
    held = ParticipantRole.objects.get(participant__participant_id=pid, role="FSP")
    assert held.status == RoleStatus.REJECTED
    membership = Membership.objects.get(user=user, participant_role=held)
    perms = effective_permissions(membership)
    assert "entry:read" in perms and "entry:answer" not in perms
    with pytest.raises(Conflict):
        services.decide_case(op, case, "reject", "Again")


def test_withdrawing_the_role_withdraws_the_case(registered: Any) -> None:
    _, body, api = registered(organisation_payload(requested_roles=["FSP", "ASSET_OWNER"]))
    pid = body["participant_id"]
    response = api.post(f"/participants/{pid}/roles/ASSET_OWNER/withdraw", {"reason": "Not needed"})
    assert response.status_code == 200, response.content
    case = _case(pid, "ASSET_OWNER")
    assert case.status == CaseStatus.WITHDRAWN
    assert not case.requests.filter(status__in=["open", "waiting", "checking"]).exists()


def test_rejecting_a_failed_check_runs_it_again(registered: Any, operator: Any) -> None:
    from flexreg.entry.models import CheckRun
    from flexreg.entry.services import record_check_outcome

    _, body, _ = registered(organisation_payload(requested_roles=["SUPPLIER"]))
    case = _case(body["participant_id"], "SUPPLIER")
    step = _req(case, "company_still_active")
    run = CheckRun.objects.get(request=step)
    record_check_outcome(run.pk, CheckRun.Status.FAILED, {"detail": "In liquidation"})
    failed = Answer.objects.get(request=step, status=AnswerStatus.PENDING_REVIEW)
    services.review_answer(_as(operator[1]), failed, "reject", "Check again next week.")
    step.refresh_from_db()
    assert step.status == RequestStatus.CHECKING
    assert CheckRun.objects.filter(request=step).count() == 2
