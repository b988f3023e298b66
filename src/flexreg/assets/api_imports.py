"""API: asset imports (bulk registration) — upload a file, follow its progress, download its
results and the CSV template of a category. Translate only: parse, call a selector or a
service, return a schema or a CSV.
(No ``from __future__ import annotations``: Ninja reads the parameter annotations at import.)
"""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Router, Status

from flexreg.accounts.api_auth import PUBLIC, requires
from flexreg.assets import http_imports, services_imports
from flexreg.assets import selectors_imports as selectors
from flexreg.assets.schemas_imports import AssetImportOut, import_out
from flexreg.core import permissions
from flexreg.core.acting import acting_of

router = Router(tags=["Asset imports"])

F = TypeVar("F", bound=Callable[..., Any])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV with the template's header row, or JSON Lines "
                            "(one asset record per line); at most 100,000 assets.",
                        }
                    },
                    "required": ["file"],
                }
            }
        },
    }
}


def _csv_download(description: str) -> dict[str, Any]:
    return {
        "responses": {
            "200": {
                "description": description,
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    }


def requires_import_read(view: F) -> F:
    """Declares ``assets:read``; ``assets:register`` (the importer) and oversight's
    ``assets:read_all`` also let a caller in. Object scope: ``selectors_imports``."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        acting = acting_of(request)
        if not (
            acting.is_authenticated
            and (acting.has(selectors.READ_ALL) or acting.has(selectors.REGISTER))
        ):
            permissions.require(acting, selectors.READ)
        return view(request, *args, **kwargs)

    wrapper.required_permission = selectors.READ  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


@router.post(
    "",
    response={200: AssetImportOut, 202: AssetImportOut},
    summary="Register assets in bulk: upload a CSV or JSON Lines file (multipart, field 'file')",
    description=(
        "202: the import is queued; follow it at the Location. 200: the same file was "
        "uploaded before by your participant: that import is returned and nothing new is "
        "registered."
    ),
    openapi_extra=_UPLOAD_BODY,
)
@requires(services_imports.REGISTER)
def start_import(request: HttpRequest, response: HttpResponse) -> Status[AssetImportOut]:
    batch, created = services_imports.start(acting_of(request), http_imports.uploaded_file(request))
    response["Location"] = f"/api/v1/asset-imports/{batch.public_id}"
    return Status(202 if created else 200, import_out(batch, selectors.validation(batch)))


@router.get(
    "/templates/{category}",
    summary="The CSV template of a category (its columns, header row only)",
    openapi_extra=_csv_download("The header row of the category's CSV template."),
)
@requires(PUBLIC)
def template(request: HttpRequest, category: str, role: str | None = None) -> StreamingHttpResponse:
    """``role`` (default: the caller's acting role, if it registers assets) adds that role's
    own columns, ``role_details.<name>`` (its asset rules); a category the role may not
    register is not found."""
    acting_role = acting_of(request).role
    default = acting_role if acting_role in permissions.ASSET_REGISTRANTS else None
    code, columns = selectors.template_columns(
        category, role=(role or "").strip().upper()[:30] or default
    )
    return http_imports.csv_response(columns, [], f"flexreg-assets-{code.lower()}.csv")


@router.get("/{import_id}", response=AssetImportOut, summary="An import's progress")
@requires_import_read
def get_import(request: HttpRequest, import_id: str) -> AssetImportOut:
    batch = selectors.import_for(acting_of(request), import_id)
    return import_out(batch, selectors.validation(batch))


@router.get(
    "/{import_id}/results",
    summary="An import's results as CSV: row, outcome, asset_id, errors",
    openapi_extra=_csv_download("One line per row done so far."),
)
@requires_import_read
def get_results(request: HttpRequest, import_id: str) -> StreamingHttpResponse:
    batch = selectors.import_for(acting_of(request), import_id)
    rows = (
        (row, outcome, asset_id, http_imports.error_text(errors))
        for row, outcome, asset_id, errors in selectors.result_rows(batch)
    )
    return http_imports.csv_response(
        ("row", "outcome", "asset_id", "errors"), rows, f"asset-import-{batch.public_id}.csv"
    )
