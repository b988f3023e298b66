"""Health: is the process up, and can it reach its database?"""

from django.db import connection
from django.http import HttpRequest
from ninja import Router, Schema, Status

from flexreg.accounts.api_auth import PUBLIC, requires

router = Router(tags=["operations"])


class HealthOut(Schema):
    status: str
    database: str


@router.get("/health", auth=None, response={200: HealthOut, 503: HealthOut})
@requires(PUBLIC)
def health(request: HttpRequest) -> Status[HealthOut]:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        return Status(200, HealthOut(status="ok", database="ok"))
    except Exception:  # any database failure means "not ready", never a 500
        return Status(503, HealthOut(status="degraded", database="unavailable"))
