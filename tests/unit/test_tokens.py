"""Tokens (fengqiao/auth.py): RS256 from an identity provider checked against its keys (a JWKS
file or URL), HS256 for development and, once keys are configured, for service tokens only;
every bad token refused."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from fengqiao import auth

SECRET, AUDIENCE = "s" * 32, "fengqiao"


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


PROVIDER, STRANGER = rsa_key(), rsa_key()


def jwks(*keys):
    found = []
    for kid, key in keys:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        found.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
    return {"keys": found}


def signed(key, kid="k1", roles=("handler",), scope="QS", audience=AUDIENCE, ttl=600, **extra):
    now = int(time.time())
    claims = {"iss": auth.ISSUER, "aud": audience, "sub": "QS-CHENJH", "iat": now, "exp": now + ttl,
              "roles": list(roles), "scope": scope, **extra}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(("k1", PROVIDER))))
    return str(path)


def test_an_identity_providers_token_is_checked_against_its_keys(key_file):
    who = auth.verify(SECRET, AUDIENCE, signed(PROVIDER), jwks=key_file)
    assert (who.subject, who.roles, who.scope) == ("QS-CHENJH", ("handler",), "QS")


@pytest.mark.parametrize("token, why", [
    (lambda: signed(PROVIDER, ttl=-60), "expired"),
    (lambda: signed(STRANGER), "Signature verification failed"),
    (lambda: signed(PROVIDER, audience="another-system"), "Audience"),
    (lambda: signed(PROVIDER, kid="k9"), "no key 'k9'"),
    (lambda: signed(PROVIDER, roles=()), "roles"),
    (lambda: signed(PROVIDER, scope=""), "scope"),
    (lambda: "not.a.token", "Invalid"),
    (lambda: jwt.encode({"sub": "x"}, None, algorithm="none"), "not accepted"),
    (lambda: auth.issue(SECRET, AUDIENCE, "QS-CHENJH", ["handler"], "QS"), "must be RS256"),
])
def test_bad_tokens_are_refused(key_file, token, why):
    with pytest.raises(auth.AuthError, match=why):
        auth.verify(SECRET, AUDIENCE, token(), jwks=key_file)


def test_with_keys_configured_hs256_is_for_the_services_own_tokens():
    service = auth.issue(SECRET, AUDIENCE, "notify", ["service"], "SH")
    assert auth.verify(SECRET, AUDIENCE, service, jwks="/nonexistent/never/read").roles == ("service",)
    person = auth.issue(SECRET, AUDIENCE, "QS-WUXY", ["clerk"], "QS")
    assert auth.verify(SECRET, AUDIENCE, person).roles == ("clerk",)  # no keys: development
    with pytest.raises(auth.AuthError, match="not accepted"):  # no keys: RS256 cannot be checked
        auth.verify(SECRET, AUDIENCE, signed(PROVIDER))


def test_keys_are_fetched_from_the_providers_url_and_again_when_it_rotates(monkeypatch):
    monkeypatch.setattr(auth, "JWKS_REFETCH_SECONDS", 0)  # (30 s in service)
    published = {"keys": jwks(("k1", PROVIDER))["keys"]}

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(published).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/jwks.json"
    try:
        assert auth.verify(SECRET, AUDIENCE, signed(PROVIDER), jwks=url).scope == "QS"
        published["keys"] = jwks(("k2", STRANGER))["keys"]  # the provider rotated to a new key
        assert auth.verify(SECRET, AUDIENCE, signed(STRANGER, kid="k2"), jwks=url).scope == "QS"
    finally:
        server.shutdown()


def test_the_providers_own_issuer_is_checked_for_its_tokens(key_file):
    idp = "https://id.songhe.example/realms/county"
    token = signed(PROVIDER, iss=idp)
    assert auth.verify(SECRET, AUDIENCE, token, jwks=key_file, provider=idp).subject == "QS-CHENJH"
    with pytest.raises(auth.AuthError, match="issuer"):
        auth.verify(SECRET, AUDIENCE, token, jwks=key_file)  # expected "fengqiao"


def test_keys_that_cannot_be_had_are_no_verdict_on_the_token(tmp_path):
    with pytest.raises(auth.KeysUnavailable):
        auth.verify(SECRET, AUDIENCE, signed(PROVIDER), jwks=str(tmp_path / "missing.json"))
    closed = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_port
    closed.server_close()  # nothing listens there now
    with pytest.raises(auth.KeysUnavailable):
        auth.verify(SECRET, AUDIENCE, signed(PROVIDER), jwks=f"http://127.0.0.1:{port}/jwks.json")
