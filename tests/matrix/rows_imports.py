"""Authorisation matrix rows for asset imports (assets/api_imports.py).

Registering is operational: participant A's FSP role is qualified inside the build (once per
world). The matrix client sends JSON only, so the upload row carries no file: the caller
allowed to import gets the coded 422 for the missing ``file`` field, after the permission
check. The import read by the GET rows is started by A's FSP role through the service.
"""

from __future__ import annotations

from typing import Any

from tests.matrix.base import Scenario, World, _expect

B = "/asset-imports"


def _qualified(w: World) -> None:
    """A's FSP role qualified (registering assets needs it), once per world."""
    if w.__dict__.get("_imports_qualified"):
        return
    from django.db import transaction

    from flexreg.core.acting import Acting
    from flexreg.participants import services
    from flexreg.participants.models import ParticipantRole

    held = ParticipantRole.objects.get(participant=w.a, role="FSP")
    with transaction.atomic():
        services.set_role_qualified(Acting.system("t"), held, True, "t")
    w.__dict__["_imports_qualified"] = True


def _import(w: World) -> str:
    """An import started by participant A's FSP role, made once per world."""
    cached = w.__dict__.get("_import")
    if cached is not None:
        return str(cached)
    _qualified(w)
    from django.core.files.uploadedfile import SimpleUploadedFile

    from flexreg.assets import services_imports
    from flexreg.core.acting import Acting

    importer = Acting(
        user_id=None,
        user_label="system:matrix",
        via="system",
        participant_pk=w.a.pk,
        participant_id=w.a.participant_id,
        role="FSP",
        permissions=frozenset({"assets:register"}),
    )
    content = b"name,category\nMatrix battery,BESS\n"
    batch, _ = services_imports.start(importer, SimpleUploadedFile("m.csv", content, "text/csv"))
    w.__dict__["_import"] = str(batch.public_id)
    return str(batch.public_id)


def _no_file(w: World) -> tuple[str, Any]:
    _qualified(w)
    return B, {"file": "not a file"}


SCENARIOS = [
    Scenario(
        "POST /api/v1/asset-imports",
        _no_file,
        # only a qualified role registers: A's (qualified here) gets 422 for the missing file;
        # B's FSP role is not qualified; operators do not register assets
        _expect(401, 403, 403, 422, 403),
    ),
    Scenario(
        "GET /api/v1/asset-imports/{import_id}",
        lambda w: (f"{B}/{_import(w)}", None),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "GET /api/v1/asset-imports/{import_id}/results",
        lambda w: (f"{B}/{_import(w)}/results", None),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "GET /api/v1/asset-imports/templates/{category}",
        lambda w: (f"{B}/templates/BESS", None),
        _expect(401, 200, 200, 200, 200),
    ),
]
