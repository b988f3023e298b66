"""Matrix rows: the asset catalogue (assets/api_catalogue.py). Anyone signed in reads it; only
the central operator (``asset_catalogue:manage``) changes it. The restore row needs a retired
value: the 132 kV voltage level is retired once per world, outside the rolled-back calls."""

from __future__ import annotations

from tests.matrix.base import Scenario, World, _expect

OP = "/operator/asset-catalogue"


def _retired(w: World) -> str:
    """A retired voltage level to restore (retired once per world)."""
    if not w.__dict__.get("_catalogue_retired"):
        from django.db import transaction

        from flexreg.assets import services_catalogue
        from flexreg.core.acting import Acting

        system = Acting.system("matrix", frozenset({services_catalogue.MANAGE}))
        with transaction.atomic():
            services_catalogue.retire_value(system, "voltage_levels", "132KV", "matrix")
        w.__dict__["_catalogue_retired"] = True
    return f"{OP}/voltage_levels/132KV/restore"


SCENARIOS = [
    Scenario(
        "GET /api/v1/asset-catalogue",
        lambda w: ("/asset-catalogue", None),
        _expect(401, 200, 200, 200, 200),
    ),
    Scenario(
        "GET /api/v1/operator/asset-catalogue/changes",
        lambda w: (f"{OP}/changes", None),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario(
        "POST /api/v1/operator/asset-catalogue/{section}",
        lambda w: (f"{OP}/energy_sources", {"code": "TIDAL", "value": {"label": "Tidal"}}),
        _expect(401, 403, 403, 403, 201),
    ),
    Scenario(
        "PATCH /api/v1/operator/asset-catalogue/{section}/{code}",
        lambda w: (f"{OP}/energy_sources/HYDRO", {"label": "Hydroelectric"}),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario(
        "POST /api/v1/operator/asset-catalogue/{section}/{code}/retire",
        lambda w: (f"{OP}/energy_sources/HYDRO/retire", {"reason": "Matrix"}),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario(
        "POST /api/v1/operator/asset-catalogue/{section}/{code}/restore",
        lambda w: (_retired(w), {"reason": "Matrix"}),
        _expect(401, 403, 403, 403, 200),
    ),
]
