"""A relying party built on authlib, for the OpenID provider end-to-end test (oidc.test.mjs).

A confidential client (client_secret_basic) that also uses PKCE: /login sends the browser to the
provider's authorization endpoint (extra query parameters such as prompt or max_age are passed
on); /cb checks the RFC 9207 `iss`, redeems the code, verifies the ID token's signature against
the provider's JWKS and its claims (iss, aud, exp, nonce, auth_time with max_age), reads UserInfo,
and shows the outcome as JSON (also at /result).

Usage: python rp_authlib.py ISSUER CLIENT_ID CLIENT_SECRET_FILE PORT
"""

import json
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

ISSUER, CLIENT_ID, SECRET_FILE, PORT = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with open(SECRET_FILE, encoding="utf-8") as f:
    CLIENT_SECRET = f.read().strip()
META = requests.get(ISSUER + "/.well-known/openid-configuration", timeout=10).json()
assert META["issuer"] == ISSUER, META["issuer"]
REDIRECT_URI = f"http://127.0.0.1:{PORT}/cb"
PENDING = {}
RESULT = {}


def session():
    return OAuth2Session(
        CLIENT_ID,
        CLIENT_SECRET,
        scope="openid email",
        redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method="client_secret_basic",
        code_challenge_method="S256",
    )


def start(query):
    extra = {k: v[0] for k, v in parse_qs(query).items()}
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    url, state = session().create_authorization_url(
        META["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
    )
    PENDING[state] = (verifier, nonce, extra)
    return url


def finish(q):
    if q.get("iss") != ISSUER:
        raise ValueError(f"iss on the redirect is {q.get('iss')!r}, not the issuer")
    if "error" in q:
        return {"error": q["error"]}
    verifier, nonce, extra = PENDING.pop(q["state"])
    s = session()
    token = s.fetch_token(META["token_endpoint"], grant_type="authorization_code", code=q["code"], code_verifier=verifier)
    jwks = JsonWebKey.import_key_set(requests.get(META["jwks_uri"], timeout=10).json())
    params = {"nonce": nonce, "client_id": CLIENT_ID, "access_token": token["access_token"]}
    if "max_age" in extra:
        params["max_age"] = int(extra["max_age"])
    claims = jwt.decode(
        token["id_token"],
        jwks,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": ISSUER}, "aud": {"essential": True, "value": CLIENT_ID}},
        claims_params=params,
    )
    claims.validate(leeway=30)
    userinfo = s.get(META["userinfo_endpoint"], timeout=10)
    userinfo.raise_for_status()
    return {"verified": True, "id_token": dict(claims), "userinfo": userinfo.json()}


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body, location=None):
        self.send_response(status)
        if location:
            self.send_header("location", location)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def do_GET(self):  # noqa: N802 (the standard library's name)
        u = urlparse(self.path)
        if u.path == "/login":
            self.reply(302, {}, start(u.query))
        elif u.path == "/cb":
            try:
                out = finish({k: v[0] for k, v in parse_qs(u.query).items()})
            except Exception as e:  # the test reads what went wrong
                out = {"failed": f"{type(e).__name__}: {e}"}
            RESULT.clear()
            RESULT.update(out)
            self.reply(200, out)
        elif u.path == "/result":
            self.reply(200, RESULT)
        else:
            self.reply(404, {})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print("ready", flush=True)
    server.serve_forever()
