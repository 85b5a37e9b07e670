"""Who may ask: API keys from the environment, OIDC tokens checked against a JWKS server the test
starts, TLS with a certificate the test makes; health answers without credentials."""

from __future__ import annotations

import datetime as dt
import http.client
import http.server
import json
import ssl
import threading

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.feature_serving.conftest import post, running_server

GOOD = {"feature_service": "driver_activity_v1", "entities": {"driver_id": [1001]}}
KEY = "k" * 8 + "-a-long-test-key-0123"
OTHER_KEY = "x" * 8 + "-another-test-key-456"
ISSUER, AUDIENCE = "https://issuer.test", "trip-features"


@pytest.fixture(scope="module")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key):
    """A JWKS endpoint on 127.0.0.1 publishing `signing_key` as kid "k1", stopped at the end."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    document = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]})

    class Keys(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document.encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def _token(key, **claims) -> str:
    now = dt.datetime.now(dt.UTC)
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "model-server",
        "exp": now + dt.timedelta(minutes=5),
    }
    body.update(claims)
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def guarded(served_stores, jwks_url, monkeypatch_module):
    monkeypatch_module.setenv("TEST_SERVING_KEYS", f"{KEY},{OTHER_KEY}")
    overrides = [
        "serving.auth.api_keys_env=TEST_SERVING_KEYS",
        f"serving.auth.oidc.jwks_url={jwks_url}",
        f"serving.auth.oidc.issuer={ISSUER}",
        f"serving.auth.oidc.audience={AUDIENCE}",
    ]
    with running_server(served_stores["sqlite"], *overrides) as (port, _):
        yield port


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _ask(port: int, headers: dict) -> tuple[int, dict, http.client.HTTPResponse]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", "/get-online-features", body=json.dumps(GOOD), headers=headers)
    answer = connection.getresponse()
    return answer.status, json.loads(answer.read()), answer


def test_api_keys_open_lookups_and_nothing_else_does(guarded):
    for headers in ({"Authorization": f"Bearer {KEY}"}, {"X-API-Key": OTHER_KEY}):
        assert _ask(guarded, headers)[0] == 200
    for headers in (
        {},
        {"Authorization": f"Bearer {KEY[:-1]}"},
        {"Authorization": KEY},
        {"X-API-Key": ""},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ):
        status, answer, response = _ask(guarded, headers)
        assert (status, answer["field"]) == (401, "authorization"), headers
        assert response.getheader("www-authenticate", "").startswith("Bearer")


def test_oidc_tokens_are_checked_for_signer_issuer_audience_and_expiry(guarded, signing_key):
    assert _ask(guarded, {"Authorization": f"Bearer {_token(signing_key)}"})[0] == 200
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    refused = {
        "another signer": _token(stranger),
        "expired": _token(signing_key, exp=past),
        "another issuer": _token(signing_key, iss="https://elsewhere.test"),
        "another audience": _token(signing_key, aud="someone-else"),
        "no signature": jwt.encode({"iss": ISSUER, "aud": AUDIENCE}, None, algorithm="none"),
        "hmac with the public key": _hmac_with_public_key(signing_key),
    }
    for why, token in refused.items():
        status, answer, _ = _ask(guarded, {"Authorization": f"Bearer {token}"})
        assert (status, answer["field"]) == (401, "authorization"), why


def _hmac_with_public_key(signing_key) -> str:
    """The classic algorithm-confusion token: HS256 keyed with the issuer's public key."""
    import base64
    import hashlib
    import hmac

    public = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def part(data: dict) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")

    head = part({"alg": "HS256", "typ": "JWT", "kid": "k1"})
    exp = int((dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).timestamp())
    claims = part({"iss": ISSUER, "aud": AUDIENCE, "exp": exp})
    signature = hmac.new(public, head + b"." + claims, hashlib.sha256).digest()
    return (head + b"." + claims + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


def test_health_answers_without_credentials_and_metrics_need_them(guarded):
    connection = http.client.HTTPConnection("127.0.0.1", guarded, timeout=10)
    connection.request("GET", "/health")
    assert connection.getresponse().status == 200
    connection = http.client.HTTPConnection("127.0.0.1", guarded, timeout=10)
    connection.request("GET", "/metrics")
    assert connection.getresponse().status == 401


def make_certificate(folder) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert PEM path, key PEM path)."""
    import ipaddress

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.mark.slow
def test_tls_serves_lookups_to_a_client_that_trusts_the_certificate(served_stores, tmp_path):
    cert, key = make_certificate(tmp_path)
    overrides = [f"serving.tls.cert_file={cert}", f"serving.tls.key_file={key}"]
    with running_server(served_stores["sqlite"], *overrides) as (port, _):
        trusted = ssl.create_default_context(cafile=cert)
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=trusted, timeout=10)
        status, answer = post(connection, GOOD)
        assert status == 200 and answer["results"]
        connection.close()  # a kept-alive connection would hold the server's shutdown
        with pytest.raises(ssl.SSLCertVerificationError):
            strict = http.client.HTTPSConnection(
                "127.0.0.1", port, context=ssl.create_default_context(), timeout=10
            )
            post(strict, GOOD)
        plain = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            post(plain, GOOD)
