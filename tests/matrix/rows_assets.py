"""Matrix rows: single asset registration, reads and lookup (assets/api.py)."""

from __future__ import annotations

from typing import Any

from tests.matrix.base import Scenario, World, _expect


def _assets(w: World) -> dict[str, Any]:
    """A's FSP role qualified (so "with" may register: a fresh FSP's market-entry case is not
    qualified) and one asset registered by A (made once per world, outside the savepoints)."""
    cached = w.__dict__.get("_assets")
    if cached is not None:
        return cached
    from flexreg.accounts.acting import acting_for
    from flexreg.assets import services
    from flexreg.assets.tests.helpers_registration import IMPORT_MPAN, record
    from flexreg.core.acting import Acting
    from flexreg.participants import services as participant_services
    from flexreg.participants.models import Membership, ParticipantRole

    held = ParticipantRole.objects.get(participant=w.a, role="FSP")
    participant_services.set_role_qualified(Acting.system("matrix"), held, True, "Matrix test")
    member = (
        Membership.objects.filter(participant_role=held, is_active=True)
        .exclude(permissions=[])
        .select_related("user", "participant_role__participant")
        .order_by("pk")
        .first()
    )
    assert member is not None
    asset = services.register(acting_for(member.user, member, via="session"), record())
    w.__dict__["_assets"] = {"asset_id": asset.asset_id, "mpan": IMPORT_MPAN, "record": record}
    return w.__dict__["_assets"]


def _b_owner_link(w: World) -> str:
    """B linked to A's asset as its legal owner (made once per world): the link ended by the
    link rows (A's own link stays, so it is not the last)."""
    cached = w.__dict__.get("_b_owner_link")
    if cached is not None:
        return str(cached)
    from flexreg.assets import services_links
    from flexreg.core.acting import Acting

    asset_id = _assets(w)["asset_id"]
    link = services_links.add_link(
        Acting.system("matrix", permissions=frozenset({"assets:review", "assets:read_all"})),
        asset_id,
        services_links.NewLink(participant_id=w.b.participant_id, relationship="legal_owner"),
    )
    w.__dict__["_b_owner_link"] = str(link.public_id)
    return str(link.public_id)


def _tomorrow() -> str:
    import datetime as dt

    return (dt.date.today() + dt.timedelta(days=1)).isoformat()


def _new_record(w: World) -> dict[str, Any]:
    return _assets(w)["record"](site={"postcode": "LS1 4AP"})


SCENARIOS = [
    Scenario(
        "POST /api/v1/assets",
        lambda w: ("/assets", _new_record(w)),
        # registering is operational: B's FSP is not qualified; the operator registers nothing
        _expect(401, 403, 403, 201, 403),
    ),
    Scenario(
        "GET /api/v1/assets",
        lambda w: ("/assets", None),
        _expect(401, 200, 403, 200, 200),
    ),
    Scenario(
        "GET /api/v1/assets/{asset_id}",
        lambda w: (f"/assets/{_assets(w)['asset_id']}", None),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "POST /api/v1/assets/lookup",
        lambda w: ("/assets/lookup", {"mpan": _assets(w)["mpan"]}),
        _expect(401, 200, 403, 200, 200),
    ),
    Scenario(
        "POST /api/v1/assets/{asset_id}/links",
        lambda w: (
            f"/assets/{_assets(w)['asset_id']}/links",
            {"participant_id": w.b.participant_id, "relationship": "legal_owner"},
        ),
        # a maintainer: a party linked now with assets:register (B's FSP is not qualified), or
        # the operator's assets:review
        _expect(401, 403, 403, 201, 201),
    ),
    Scenario(
        "POST /api/v1/assets/{asset_id}/links/{link_id}/end",
        lambda w: (
            f"/assets/{_assets(w)['asset_id']}/links/{_b_owner_link(w)}/end",
            {"valid_to": _tomorrow(), "reason": "Sold the site"},
        ),
        # B is the linked party itself, but ending a link is a write: assets:register
        _expect(401, 403, 403, 200, 200),
    ),
]
