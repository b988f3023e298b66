"""A small OpenID Connect provider for tests and demos, that can be told to misbehave.

It speaks the real protocol over HTTP on localhost: discovery, JWKS, ``/authorize`` (which
signs the configured user in at once and redirects back with a code), ``/token`` (client
secret — basic or post — or ``private_key_jwt``, whose assertion it verifies, and PKCE), and
``/userinfo`` (with GOV.UK One Login's ``coreIdentityJWT`` when the ``claims`` request asks for
it). ``misbehave`` makes the next ID tokens wrong in one chosen way so that relying-party
checks can be tested: ``aud``, ``iss``, ``nonce``, ``expired``, ``alg_none``, ``tamper``,
``tid`` (Entra), ``vot`` (identity level), ``identity_tamper``.

    idp = start_idp(issuer_path="/tenant-a")
    idp.register_client("flexreg", secret="s3cret")            # or public_key_pem=...
    idp.user = {"sub": "u-1", "email": "a@example.test"}
    ...
    idp.stop()

Development only: never run it where real users sign in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

CORE_IDENTITY = "https://vocab.account.gov.uk/v1/coreIdentityJWT"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Client:
    client_id: str
    secret: str = ""
    public_key_pem: str = ""


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    code_challenge: str
    claims: dict[str, Any]
    vtr: str
    user: dict[str, Any]


@dataclass
class TestIdP:
    """The running provider. ``issuer`` is what discovery states (may hold ``{tenantid}``)."""

    base_url: str = ""
    issuer_path: str = ""
    entra_template: bool = False
    clients: dict[str, Client] = field(default_factory=dict)
    user: dict[str, Any] = field(default_factory=dict)
    misbehave: set[str] = field(default_factory=set)
    vot: str = "P2"
    # "did": the credential's kid is the DID URL (as One Login does); "short": the bare kid.
    identity_kid_in_header: str = "did"
    requests: list[dict[str, Any]] = field(default_factory=list)
    assertions: list[dict[str, Any]] = field(default_factory=list)
    token_errors: list[str] = field(default_factory=list)
    _grants: dict[str, _Grant] = field(default_factory=dict)
    _tokens: dict[str, _Grant] = field(default_factory=dict)
    _used_jti: set[str] = field(default_factory=set)
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.identity_key = ec.generate_private_key(ec.SECP256R1())
        self.kid = "idp-key-1"
        self.identity_kid = "identity-key-1"

    # --- configuration -------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        if self.entra_template:
            return f"{self.base_url}{self.issuer_path}/{{tenantid}}/v2.0"
        return f"{self.base_url}{self.issuer_path}"

    def token_issuer(self) -> str:
        if self.entra_template:
            return f"{self.base_url}{self.issuer_path}/{self.user.get('tid', '')}/v2.0"
        return self.issuer

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}{self.issuer_path}/.well-known/openid-configuration"

    @property
    def identity_issuer(self) -> str:
        return f"{self.base_url}/identity/"

    @property
    def identity_jwks_url(self) -> str:
        return f"{self.base_url}/identity/jwks"

    @property
    def identity_did_url(self) -> str:
        return f"{self.base_url}/identity/did.json"

    @property
    def did(self) -> str:
        return f"did:web:{urlparse(self.base_url).netloc.replace(':', '%3A')}"

    def register_client(
        self, client_id: str, *, secret: str = "", public_key_pem: str = ""
    ) -> None:
        self.clients[client_id] = Client(client_id, secret, public_key_pem)

    def reset(self) -> None:
        self.misbehave = set()
        self.vot = "P2"
        self.identity_kid_in_header = "did"
        self.requests.clear()
        self.assertions.clear()
        self.token_errors.clear()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- documents -----------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        b = f"{self.base_url}{self.issuer_path}"
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{b}/authorize",
            "token_endpoint": f"{b}/token",
            "userinfo_endpoint": f"{b}/userinfo",
            "jwks_uri": f"{b}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.signing_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def identity_jwk(self) -> dict[str, Any]:
        jwk = json.loads(ECAlgorithm.to_jwk(self.identity_key.public_key()))
        jwk.update({"kid": self.identity_kid, "use": "sig", "alg": "ES256"})
        return jwk

    def did_document(self) -> dict[str, Any]:
        method = {
            "id": f"{self.did}#{self.identity_kid}",
            "type": "JsonWebKey2020",
            "controller": self.did,
            "publicKeyJwk": {k: v for k, v in self.identity_jwk().items() if k != "kid"},
        }
        return {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": self.did,
            "verificationMethod": [method],
            "assertionMethod": [method["id"]],
        }

    # --- tokens --------------------------------------------------------------------------------

    def id_token(self, grant: _Grant) -> str:
        now = int(time.time())
        user = grant.user
        claims: dict[str, Any] = {
            "iss": self.token_issuer(),
            "sub": user["sub"],
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            "auth_time": now,
        }
        for extra in ("email", "email_verified", "name", "tid", "oid", "preferred_username"):
            if extra in user:
                claims[extra] = user[extra]
        m = self.misbehave
        if "aud" in m:
            claims["aud"] = "someone-else"
        if "iss" in m:
            claims["iss"] = f"{self.base_url}/evil"
        if "nonce" in m:
            claims["nonce"] = "not-the-nonce"
        if "expired" in m:
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        if "alg_none" in m:
            return jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
        if "wrong_key" in m:
            return jwt.encode(claims, self.other_key, algorithm="RS256", headers={"kid": self.kid})
        token = jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": self.kid})
        if "tamper" in m:
            head, body, sig = token.split(".")
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            payload["sub"] = "someone-else-entirely"
            body = _b64(json.dumps(payload).encode())
            token = f"{head}.{body}.{sig}"
        return token

    def core_identity(self, grant: _Grant) -> str:
        now = int(time.time())
        claims = {
            "iss": self.identity_issuer,
            "sub": grant.user["sub"],
            "aud": grant.client_id,
            "nbf": now,
            "iat": now,
            "exp": now + 1200,
            "jti": f"urn:uuid:{uuid.uuid4()}",
            "vot": self.vot,
            "vtm": f"{self.base_url}/trustmark",
            "vc": {
                "type": ["VerifiableCredential", "IdentityCheckCredential"],
                "credentialSubject": {
                    "name": [{"nameParts": [{"type": "GivenName", "value": "Alex"}]}],
                    "birthDate": [{"value": "1970-01-01"}],
                },
            },
        }
        token = jwt.encode(
            claims,
            self.identity_key,
            algorithm="ES256",
            headers={
                "kid": f"{self.did}#{self.identity_kid}"
                if self.identity_kid_in_header == "did"
                else self.identity_kid
            },
        )
        if "identity_tamper" in self.misbehave:
            head, _body, sig = token.split(".")
            claims["vot"] = "P2"
            claims["sub"] = "another-person"
            token = f"{head}.{_b64(json.dumps(claims).encode())}.{sig}"
        return token

    # --- endpoint logic ------------------------------------------------------------------------

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        self.requests.append(dict(query))
        client = self.clients.get(query.get("client_id", ""))
        if client is None or query.get("response_type") != "code":
            return 400, {}
        code = secrets.token_urlsafe(24)
        claims = json.loads(query["claims"]) if query.get("claims") else {}
        self._grants[code] = _Grant(
            client_id=client.client_id,
            redirect_uri=query["redirect_uri"],
            nonce=query.get("nonce", ""),
            code_challenge=query.get("code_challenge", ""),
            claims=claims,
            vtr=query.get("vtr", ""),
            user=dict(self.user),
        )
        target = (
            f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        )
        return 302, {"Location": target}

    def _client_auth(self, form: dict[str, str], headers: Any) -> Client | None:
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            client = self.clients.get(client_id)
            return client if client and client.secret and secret == client.secret else None
        client = self.clients.get(form.get("client_id", ""))
        if client is None:
            return None
        if form.get("client_assertion_type") == ASSERTION_TYPE:
            if not client.public_key_pem:
                return None
            try:
                claims = jwt.decode(
                    form.get("client_assertion", ""),
                    serialization.load_pem_public_key(client.public_key_pem.encode()),  # type: ignore[arg-type]
                    algorithms=["RS256", "PS256", "ES256"],
                    audience=f"{self.base_url}{self.issuer_path}/token",
                    issuer=client.client_id,
                    options={"require": ["iss", "sub", "aud", "exp", "jti"]},
                )
            except jwt.PyJWTError as exc:
                self.token_errors.append(f"client_assertion: {exc}")
                return None
            if claims["sub"] != client.client_id or claims["jti"] in self._used_jti:
                self.token_errors.append("client_assertion: bad sub or replayed jti")
                return None
            self._used_jti.add(claims["jti"])
            self.assertions.append(claims)
            return client
        if client.secret and form.get("client_secret") == client.secret:
            return client
        return None

    def token(self, form: dict[str, str], headers: Any) -> tuple[int, dict[str, Any]]:
        client = self._client_auth(form, headers)
        if client is None:
            self.token_errors.append("invalid_client")
            return 401, {"error": "invalid_client"}
        grant = self._grants.pop(form.get("code", ""), None)
        if grant is None or grant.client_id != client.client_id:
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
        if grant.code_challenge:
            verifier = form.get("code_verifier", "")
            if _b64(hashlib.sha256(verifier.encode()).digest()) != grant.code_challenge:
                return 400, {"error": "invalid_grant", "error_description": "pkce"}
        access = secrets.token_urlsafe(24)
        self._tokens[access] = grant
        return 200, {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(grant),
        }

    def userinfo(self, headers: Any) -> tuple[int, dict[str, Any]]:
        grant = self._tokens.get(headers.get("Authorization", "").removeprefix("Bearer "))
        if grant is None:
            return 401, {"error": "invalid_token"}
        body = {"sub": grant.user["sub"]}
        for extra in ("email", "email_verified", "name"):
            if extra in grant.user:
                body[extra] = grant.user[extra]
        if CORE_IDENTITY in (grant.claims.get("userinfo") or {}) and "P2" in grant.vtr:
            body[CORE_IDENTITY] = self.core_identity(grant)
        return 200, body


def _handler(idp: TestIdP) -> type[BaseHTTPRequestHandler]:
    prefix = idp.issuer_path

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(
            self, status: int, body: Any = None, headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            path = url.path
            if path == f"{prefix}/.well-known/openid-configuration":
                self._send(200, idp.discovery())
            elif path == f"{prefix}/jwks":
                self._send(200, idp.jwks())
            elif path == "/identity/jwks":
                self._send(200, {"keys": [idp.identity_jwk()]})
            elif path == "/identity/did.json":
                self._send(200, idp.did_document())
            elif path == f"{prefix}/authorize":
                status, headers = idp.authorize(query)
                self._send(status, None if status == 302 else {"error": "invalid_request"}, headers)
            elif path == f"{prefix}/userinfo":
                self._send(*idp.userinfo(self.headers))
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlparse(self.path).path == f"{prefix}/token":
                self._send(*idp.token(form, self.headers))
            else:
                self._send(404, {"error": "not_found"})

    return Handler


def start_idp(issuer_path: str = "", *, entra_template: bool = False) -> TestIdP:
    """Start a provider on a free localhost port in a daemon thread."""
    idp = TestIdP(issuer_path=issuer_path.rstrip("/"), entra_template=entra_template)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(idp))
    idp._server = server
    idp.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return idp


def private_key_pair() -> tuple[str, str]:
    """A new RSA key pair as PEM (private, public): a client's ``private_key_jwt`` key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public
