"""Bearer-JWT authentication: who the caller is, in which roles, over which node of the county
tree (their jurisdiction scope). HS256 with a shared secret for now."""
import time
from dataclasses import dataclass

import jwt

ROLES = (
    "clerk", "handler", "mediator", "leader", "supervisor",
    "discipline_officer", "auditor", "operator", "integrator",
    "service",  # another Fengqiao service (notify asking intake for a petitioner's phone)
)
ISSUER = "fengqiao"


class AuthError(Exception):
    pass


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


def verify(secret, audience, token):
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], audience=audience, issuer=ISSUER,
            options={"require": ["exp", "sub", "aud", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthError(str(exc)) from exc
    roles, scope = claims.get("roles"), claims.get("scope")
    if not isinstance(roles, list) or not roles or any(not isinstance(r, str) or r not in ROLES for r in roles):
        raise AuthError(f"token roles must be a list of: {', '.join(ROLES)}")
    if not isinstance(scope, str) or not scope:
        raise AuthError("token lacks a scope")
    return Principal(subject=claims["sub"], roles=tuple(roles), scope=scope)


def bearer_token(authorization_header):
    scheme, _, token = (authorization_header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing bearer token")
    return token.strip()
