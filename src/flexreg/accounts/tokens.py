"""Bearer token format and hashing. A token is ``frt_<key_id>_<secret>``; only a digest is kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "frt"


def new_token() -> tuple[str, str, str]:
    """Return (token shown once, key_id, digest to store)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = f"{PREFIX}_{key_id}_{secret}"
    return token, key_id, digest(token)


def digest(token: str) -> str:
    # The secret has 256 bits of entropy, so a fast hash is safe here (no brute force possible).
    return hashlib.sha256(token.encode()).hexdigest()


def parse_key_id(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 12:
        return None
    return parts[1]


def matches(token: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(token), stored_digest)
