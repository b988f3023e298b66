"""API: market-entry rules — versions, operator additions, validation, moving cases.

Translate only: parse, call a selector or a service, return a schema.
"""

from django.http import HttpRequest
from ninja import Router, Status

from flexreg.accounts.api_auth import requires
from flexreg.core.acting import acting_of
from flexreg.entry import selectors, services
from flexreg.entry.models import RuleAddition, RuleSetVersion
from flexreg.entry.schemas import (
    CaseOut,
    MoveCaseIn,
    RetireIn,
    RuleAdditionIn,
    RuleAdditionOut,
    RuleVersionDetailOut,
    RuleVersionOut,
    ValidateIn,
    ValidateOut,
    case_out,
)

router = Router(tags=["central operator: market-entry rules"])


def _version_out(v: RuleSetVersion, cases: int) -> RuleVersionOut:
    return RuleVersionOut(
        number=v.number,
        revision=v.source_revision,
        checksum=v.checksum,
        created_at=v.created_at,
        cases=cases,
    )


def _addition_out(a: RuleAddition, version: RuleSetVersion) -> RuleAdditionOut:
    return RuleAdditionOut(
        addition_id=a.public_id,
        key=a.key,
        roles=a.roles,
        step=a.step,
        created_at=a.created_at,
        retired_at=a.retired_at,
        rule_version=version.number,
    )


@router.get("/versions", response=list[RuleVersionOut], summary="Rule versions and their cases")
@requires("entry:read_all")
def list_versions(request: HttpRequest) -> list[RuleVersionOut]:
    services.current_version()  # the current rules always have a version
    return [_version_out(v, n) for v, n in selectors.rule_versions()]


@router.get("/versions/{number}", response=RuleVersionDetailOut, summary="One rule version")
@requires("entry:read_all")
def get_version(request: HttpRequest, number: int) -> RuleVersionDetailOut:
    v = selectors.rule_version(number)
    cases = {x.pk: n for x, n in selectors.rule_versions()}.get(v.pk, 0)
    return RuleVersionDetailOut(**_version_out(v, cases).model_dump(), content=v.content)


@router.get("/additions", response=list[RuleAdditionOut], summary="Operator additions")
@requires("entry:read_all")
def list_additions(request: HttpRequest) -> list[RuleAdditionOut]:
    current = services.current_version()
    return [_addition_out(a, current) for a in selectors.rule_additions()]


@router.post("/additions", response={201: RuleAdditionOut}, summary="Add a step to some roles")
@requires("entry_rules:manage")
def add(request: HttpRequest, body: RuleAdditionIn) -> Status[RuleAdditionOut]:
    addition, version = services.add_rule_addition(
        acting_of(request), key=body.key, roles=body.roles, step=body.step
    )
    return Status(201, _addition_out(addition, version))


@router.post("/additions/{addition_id}/retire", response=RuleAdditionOut, summary="Retire one")
@requires("entry_rules:manage")
def retire(request: HttpRequest, addition_id: str, body: RetireIn) -> RuleAdditionOut:
    addition, version = services.retire_rule_addition(
        acting_of(request), selectors.rule_addition(addition_id), body.reason
    )
    return _addition_out(addition, version)


@router.post("/validate", response=ValidateOut, summary="Check a rule file before deploying it")
@requires("entry:read_all")
def validate(request: HttpRequest, body: ValidateIn) -> ValidateOut:
    compiled, problems = services.validate_rules_text(body.toml)
    if compiled is None:
        return ValidateOut(valid=False, problems=problems)
    return ValidateOut(
        valid=True, problems=[], roles=sorted(compiled["roles"]), steps=sorted(compiled["steps"])
    )


@router.post("/cases/{case_id}/move", response=CaseOut, summary="Move a case to newer rules")
@requires("entry_rules:manage")
def move_case(request: HttpRequest, case_id: str, body: MoveCaseIn) -> CaseOut:
    acting = acting_of(request)
    case = selectors.case_by_id(acting, case_id)
    version = selectors.rule_version(body.rule_version) if body.rule_version else None
    moved = services.move_to_version(acting, case, version)
    return case_out(selectors.case_by_id(acting, str(moved.public_id)))
