"""Who may ask, and under which Host name.

A client sends `Authorization: Bearer <API key or OIDC token>` (or `X-API-Key: <key>`). API keys
are compared in constant time; an OIDC token is a JWT whose signature is checked against its
issuer's JWKS (fetched from `serving.auth.oidc.jwks_url`, kept and refreshed on an unknown key
id), and whose issuer, audience and expiry must match.
"""

from __future__ import annotations

import hmac
import logging

from trip_features.feature_serving.lookup_request import Refused
from trip_features.runtime.serving_settings import Auth

log = logging.getLogger("trip_features.feature_serving")
TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class Gate:
    """Authenticates one request's headers; `None` when it may pass, else the refusal."""

    def __init__(self, auth: Auth):
        self.auth = auth
        self._jwks = None
        if auth.oidc_jwks_url:
            from jwt import PyJWKClient

            self._jwks = PyJWKClient(auth.oidc_jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def check(self, headers) -> Refused | None:
        if not self.auth.enabled:
            return None
        credential = headers.get("x-api-key")
        scheme, _, value = (headers.get("authorization") or "").partition(" ")
        if credential is None and scheme.lower() == "bearer":
            credential = value.strip()
        if not credential:
            return Refused(401, "authorization", "missing: send Authorization: Bearer <token>")
        if any(hmac.compare_digest(credential.encode(), k.encode()) for k in self.auth.api_keys):
            return None
        if self._jwks is not None and credential.count(".") == 2:
            return self._token(credential)
        return Refused(401, "authorization", "not a valid API key or token")

    def _token(self, token: str) -> Refused | None:
        import jwt

        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            jwt.decode(
                token,
                key.key,
                algorithms=TOKEN_ALGORITHMS,
                audience=self.auth.oidc_audience,
                issuer=self.auth.oidc_issuer,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWKClientConnectionError as err:
            log.warning("the OIDC issuer's keys cannot be read: %s", err)
            return Refused(503, "authorization", "the token issuer's keys cannot be read now")
        except (jwt.PyJWTError, jwt.PyJWKClientError) as err:
            return Refused(401, "authorization", f"token refused: {err}")
        return None


def host_of(header: str | None) -> str:
    """The host name of a Host header, lower-case, without its port."""
    value = (header or "").strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_refusal(header: str | None, answered: tuple[str, ...] | None) -> Refused | None:
    """A refusal unless the Host header names one of `answered` (None: any)."""
    if answered is None:
        return None
    if host_of(header) in answered:
        return None
    return Refused(
        400,
        "host",
        f"{(header or '')[:60]!r} is not a name this server answers to: ask by one of "
        f"{list(answered)}, or list the name in serving.allowed_hosts",
    )
