"""Portal pages (each view declares its permission with ``@portal_requires``)."""

from __future__ import annotations

from typing import Any

urlpatterns: list[Any] = []
