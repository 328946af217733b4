"""Bearer-JWT authentication: who the caller is, in which roles, over which node of the county
tree (their jurisdiction scope). In production people's tokens are RS256, signed by the
county's identity provider and checked against its published keys (a JWKS URL or file); HS256
with the services' shared secret is for development — and, once keys are configured, for the
services' own `service` tokens only."""
import json
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jwt

ROLES = (
    "clerk", "handler", "mediator", "leader", "supervisor",
    "discipline_officer", "auditor", "operator", "integrator",
    "service",  # another Fengqiao service (notify asking intake for a petitioner's phone)
)
# The people who work cases — every role but the integrators' (who read events, not the HTTP
# APIs) and the services' own.
STAFF = ("clerk", "handler", "mediator", "leader", "supervisor", "discipline_officer", "auditor", "operator")
ISSUER = "fengqiao"
# After fetching the provider's keys, wait this long before fetching them again for a key id
# not among them (a rotation), so that tokens with made-up key ids cannot hammer the provider.
JWKS_REFETCH_SECONDS = 30


class AuthError(Exception):
    pass


class KeysUnavailable(Exception):
    """The identity provider's keys cannot be had now (its URL down, the file unreadable): no
    token can be judged either way (503, not 401)."""


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: tuple
    scope: str  # a node code of the county tree; the county code covers everything

    def has_any(self, roles):
        return bool(set(self.roles) & set(roles))


def issue(secret, audience, subject, roles, scope, ttl_seconds=8 * 3600):
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLES)}")
    now = int(time.time())
    claims = {
        "iss": ISSUER, "aud": audience, "sub": subject, "iat": now, "exp": now + ttl_seconds,
        "roles": list(roles), "scope": scope,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(secret, audience, token, jwks=None, provider=ISSUER):
    """The token's principal, or AuthError: expired, not yet valid, wrongly signed, for another
    audience or issuer, malformed, or without roles and scope. `jwks`: a URL or file of the
    identity provider's public keys; RS256 tokens need it, must be issued by `provider` (its
    `iss`), and with it HS256 is accepted only for the `service` role."""
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
        if algorithm == "RS256" and jwks:
            key, issuer = _key_set(jwks).signing_key(token), provider
        elif algorithm == "HS256":
            key, issuer = secret, ISSUER
        else:
            raise AuthError(f"tokens signed with {algorithm} are not accepted here")
        claims = jwt.decode(token, key, algorithms=[algorithm], audience=audience, issuer=issuer,
                            options={"require": ["exp", "sub", "aud", "iss"]})
    except jwt.PyJWKClientConnectionError as exc:
        raise KeysUnavailable("the identity provider's keys cannot be fetched") from exc
    except jwt.PyJWTError as exc:
        raise AuthError(str(exc)) from exc
    roles, scope = claims.get("roles"), claims.get("scope")
    if not isinstance(roles, list) or not roles or any(not isinstance(r, str) or r not in ROLES for r in roles):
        raise AuthError(f"token roles must be a list of: {', '.join(ROLES)}")
    if not isinstance(scope, str) or not scope:
        raise AuthError("token lacks a scope")
    if algorithm == "HS256" and jwks and roles != ["service"]:
        raise AuthError("people's tokens must be RS256, signed by the identity provider")
    return Principal(subject=claims["sub"], roles=tuple(roles), scope=scope)


class _KeySet:
    """The identity provider's public keys: fetched from a URL (and again for a key id not seen
    yet: the provider rotated its keys) or read from a file."""

    def __init__(self, source):
        if source.startswith(("https://", "http://")):
            self._client = jwt.PyJWKClient(source, lifespan=3600, cooldown_duration=JWKS_REFETCH_SECONDS, timeout=3)
            return
        try:
            self._client, self._keys = None, jwt.PyJWKSet.from_dict(json.loads(Path(source).read_text()))
        except (OSError, ValueError, jwt.PyJWTError) as exc:
            raise KeysUnavailable(f"the identity provider's key file {source} cannot be read") from exc

    def signing_key(self, token):
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        kid = jwt.get_unverified_header(token).get("kid")
        found = [k for k in self._keys.keys if kid is None or k.key_id == kid]
        if not found:
            raise jwt.InvalidKeyError(f"no key {kid!r} in the identity provider's key set")
        return found[0].key


@lru_cache(maxsize=4)
def _key_set(source):
    return _KeySet(source)


def bearer_token(authorization_header):
    scheme, _, token = (authorization_header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing bearer token")
    return token.strip()
