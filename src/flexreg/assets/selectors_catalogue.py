"""Reads of the asset catalogue: the catalogue in force (for any signed-in caller) and the
central operator's stored changes with who made them and when (``asset_catalogue:manage``)."""

from __future__ import annotations

from typing import Final

from flexreg.assets import catalogue_store
from flexreg.assets.catalogue import Catalogue
from flexreg.assets.models import CatalogueEntry
from flexreg.core import permissions
from flexreg.core.acting import Acting

MANAGE: Final = "asset_catalogue:manage"
#: The changes listed at most (values are few: a page is not needed).
MAX_CHANGES: Final = 1000


def catalogue() -> Catalogue:
    """The catalogue in force: what registrations are validated against."""
    return catalogue_store.current_catalogue()


def changes(acting: Acting, section: str | None = None) -> list[CatalogueEntry]:
    """Every value the central operator added or changed, the latest change first."""
    permissions.require(acting, MANAGE)
    qs = CatalogueEntry.objects.select_related("created_by", "updated_by")
    if section:
        qs = qs.filter(section=section)
    return list(qs.order_by("-updated_at", "-pk")[:MAX_CHANGES])
