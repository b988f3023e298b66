"""API: Asset imports."""

from ninja import Router

router = Router(tags=["Asset imports"])
