"""Every API operation declares the permission it needs, and the API describes itself."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from flexreg.accounts.api_auth import PUBLIC
from flexreg.config.api import api
from flexreg.core import permissions


def _operations() -> list[tuple[str, str, Any]]:
    found = []
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for method in operation.methods:
                    found.append((method, f"{prefix}{path}", operation.view_func))
    return found


def test_every_api_operation_declares_a_known_permission() -> None:
    operations = _operations()
    assert len(operations) >= 15
    missing = [f"{m} {p}" for m, p, view in operations if not hasattr(view, "required_permission")]
    assert missing == []
    known = set(permissions.CATALOGUE) | {permissions.REGISTER, PUBLIC}
    unknown = [
        (m, p, v.required_permission)
        for m, p, v in operations
        if v.required_permission not in known
    ]
    assert unknown == []


def test_catalogue_permissions_are_well_formed() -> None:
    for code, permission in permissions.CATALOGUE.items():
        resource, _, action = code.partition(":")
        assert resource and action and permission.roles, code
        assert permission.roles <= set(
            __import__("flexreg.core.roles", fromlist=["ALL_ROLES"]).ALL_ROLES
        )


@pytest.mark.django_db
def test_openapi_document_and_docs_are_served() -> None:
    client = Client()
    doc = client.get("/api/v1/openapi.json")
    assert doc.status_code == 200
    spec = doc.json()
    assert spec["info"]["title"] == "FlexReg API"
    assert "/api/v1/participants" in spec["paths"]
    assert "/api/v1/participants/{participant_id}/verification" in spec["paths"]
    text = doc.content.decode()
    assert '"id"' not in text.replace('"verification_id"', "").replace('"participant_id"', "")
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert "script-src 'self'" in docs["Content-Security-Policy"]


@pytest.mark.django_db
def test_health_needs_no_token() -> None:
    response = Client().get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
