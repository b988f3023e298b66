"""API: Assets."""

from ninja import Router

router = Router(tags=["Assets"])
