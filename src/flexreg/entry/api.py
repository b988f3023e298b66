"""API: Market entry."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Market entry"])
