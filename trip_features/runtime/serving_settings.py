"""conf's `serving:` section as one typed object, checked when conf is loaded: a wrong key, type or
range is refused with its name. Secrets (API keys) come from the environment, never from a file,
and only when a server starts (`with_api_keys`): a job that serves nothing needs none."""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from trip_features.runtime.errors import JobError
from trip_features.runtime.locations import expand_environment
from trip_features.runtime.sizes import parse_bytes

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


class ServingError(JobError):
    """The feature server cannot start as asked."""


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Limits:
    """What one client may take: answered with 413 (body, keys), 408 (read) and 429 (connections)."""

    max_body_bytes: int = 1 << 20
    max_keys_per_request: int = 1000
    read_timeout_seconds: float = 10.0
    keep_alive_seconds: float = 30.0
    max_connections: int = 1000


@dataclass(frozen=True)
class Auth:
    """Who may ask: any of `api_keys` (from the environment) or an OIDC token its issuer signed."""

    api_keys: tuple[str, ...] = ()
    api_keys_env: str | None = None
    oidc_jwks_url: str | None = None
    oidc_issuer: str | None = None
    oidc_audience: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.api_keys_env or self.oidc_jwks_url)

    def describe(self) -> str:
        kinds = [f"API keys from {self.api_keys_env}"] if self.api_keys_env else []
        kinds += [f"OIDC tokens of {self.oidc_issuer}"] if self.oidc_jwks_url else []
        return " or ".join(kinds) or "none"


@dataclass(frozen=True)
class Tls:
    cert_file: str | None = None
    key_file: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.cert_file)


@dataclass(frozen=True)
class ServingSettings:
    host: str = "127.0.0.1"
    port: int = 6566
    workers: int = 1
    registry_ttl_seconds: int = 60
    access_log: bool = False
    allowed_hosts: tuple[str, ...] = ()
    write_routes: bool = False
    limits: Limits = Limits()
    auth: Auth = Auth()
    tls: Tls = Tls()

    @property
    def scheme(self) -> str:
        return "https" if self.tls.enabled else "http"

    def answered_hosts(self) -> tuple[str, ...] | None:
        """Host names the server answers (None: any, conf's `*`): the bind address, loopback
        names when bound there, and conf's `allowed_hosts`. A page on another site that points
        its own name at 127.0.0.1 (DNS rebinding) is refused."""
        if "*" in self.allowed_hosts:
            return None
        names = {self.host, *self.allowed_hosts}
        if is_loopback(self.host):
            names.update(LOOPBACK_NAMES)
        return tuple(sorted(names))

    def with_api_keys(self, environ: Mapping[str, str] | None = None) -> ServingSettings:
        """These settings with the API keys of `auth.api_keys_env` read from `environ`
        (os.environ): what a server starts with. An error says what to export."""
        if not self.auth.api_keys_env:
            return self
        keys = _api_keys(self.auth.api_keys_env, os.environ if environ is None else environ)
        return replace(self, auth=replace(self.auth, api_keys=keys))

    def as_conf(self) -> dict[str, Any]:
        """The section as conf/ writes it (never the keys themselves)."""
        return {
            "host": self.host,
            "port": self.port,
            "workers": self.workers,
            "registry_ttl_seconds": self.registry_ttl_seconds,
            "access_log": self.access_log,
            "allowed_hosts": list(self.allowed_hosts),
            "write_routes": self.write_routes,
            "limits": {f.name: getattr(self.limits, f.name) for f in fields(self.limits)},
            "auth": {
                "api_keys_env": self.auth.api_keys_env,
                "oidc": {
                    "jwks_url": self.auth.oidc_jwks_url,
                    "issuer": self.auth.oidc_issuer,
                    "audience": self.auth.oidc_audience,
                },
            },
            "tls": {"cert_file": self.tls.cert_file, "key_file": self.tls.key_file},
        }

    def refuse_unsafe_exposure(self, insecure: bool) -> str | None:
        """An error unless a non-loopback bind has auth and TLS (or `insecure` was asked for, then
        the warning to print); write routes always need auth."""
        if self.write_routes and not self.auth.enabled:
            raise ServingError(
                "serving.write_routes is on without authentication: anyone could change what is "
                "served. Set serving.auth.api_keys_env (and export the keys) or serving.auth.oidc"
            )
        if is_loopback(self.host) or (self.auth.enabled and self.tls.enabled):
            return None
        missing = [
            n for n, on in (("auth", self.auth.enabled), ("tls", self.tls.enabled)) if not on
        ]
        problem = (
            f"serving.host {self.host} answers other machines, without {' and '.join(missing)}"
        )
        if not insecure:
            raise ServingError(
                f"{problem}: set serving.auth.api_keys_env (or serving.auth.oidc) and "
                "serving.tls.cert_file/key_file, bind 127.0.0.1, or pass --insecure to accept it"
            )
        return f"INSECURE: {problem}; anyone who reaches it reads every feature in clear text"


def _whole(section: dict, key: str, low: int, high: int | None, path: str) -> int:
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        value_ok = False
    else:
        value_ok = high is None or value <= high
    if not value_ok:
        span = f"from {low} to {high}" if high is not None else f"of {low} or more"
        raise ServingError(f"{path}.{key} is {value!r}: give a whole number {span}")
    return value


def _seconds(section: dict, key: str, path: str) -> float:
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ServingError(f"{path}.{key} is {value!r}: give a number of seconds above 0")
    if value <= 0:
        raise ServingError(f"{path}.{key} is {value!r}: give a number of seconds above 0")
    return float(value)


def _flag(section: dict, key: str, path: str) -> bool:
    if not isinstance(section[key], bool):
        raise ServingError(f"{path}.{key} is {section[key]!r}: give true or false")
    return section[key]


def _section(raw: Any, known: type, path: str) -> dict[str, Any]:
    """`raw` as a mapping holding only `known`'s fields (defaults for those left out)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ServingError(f"{path} is {raw!r}: give a mapping")
    names = {f.name for f in fields(known)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ServingError(f"{path} has unknown key(s) {unknown}; known: {sorted(names)}")
    defaults = known()
    return {name: raw.get(name, getattr(defaults, name)) for name in names}


def _limits(raw: Any) -> Limits:
    path = "serving.limits"
    section = _section(raw, Limits, path)
    try:
        body = parse_bytes(section["max_body_bytes"], f"{path}.max_body_bytes")
    except ValueError as err:
        raise ServingError(str(err)) from err
    if body < 1024:
        raise ServingError(f"{path}.max_body_bytes is {body}: give 1k or more")
    return Limits(
        max_body_bytes=body,
        max_keys_per_request=_whole(section, "max_keys_per_request", 1, None, path),
        read_timeout_seconds=_seconds(section, "read_timeout_seconds", path),
        keep_alive_seconds=_seconds(section, "keep_alive_seconds", path),
        max_connections=_whole(section, "max_connections", 1, None, path),
    )


def _auth(raw: Any) -> Auth:
    path = "serving.auth"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict) or set(raw) - {"api_keys_env", "oidc"}:
        raise ServingError(f"{path} takes api_keys_env and oidc: found {raw!r}")
    variable = raw.get("api_keys_env")
    if variable is not None and (not isinstance(variable, str) or not variable):
        raise ServingError(f"{path}.api_keys_env is {variable!r}: name an environment variable")
    oidc = raw.get("oidc") or {}
    if not isinstance(oidc, dict) or set(oidc) - {"jwks_url", "issuer", "audience"}:
        raise ServingError(f"{path}.oidc takes jwks_url, issuer and audience: found {oidc!r}")
    given = {k: oidc.get(k) for k in ("jwks_url", "issuer", "audience")}
    if any(given.values()) and not all(given.values()):
        missing = sorted(k for k, v in given.items() if not v)
        raise ServingError(
            f"{path}.oidc needs {', '.join(missing)} too: a token is only "
            "trusted when its signer, issuer and audience are all checked"
        )
    return Auth(
        api_keys_env=variable or None,
        oidc_jwks_url=given["jwks_url"],
        oidc_issuer=given["issuer"],
        oidc_audience=given["audience"],
    )


def _api_keys(variable: str, environ: Mapping[str, str]) -> tuple[str, ...]:
    """The API keys in `variable` of `environ`, each long enough, or an error saying what to set."""
    if variable not in environ or not environ[variable].strip():
        raise ServingError(
            f"serving.auth.api_keys_env names {variable}, which is not set: export {variable} "
            "as one or more API keys separated by commas (each 16 characters or more)"
        )
    keys = tuple(k.strip() for k in environ[variable].split(",") if k.strip())
    short = [k for k in keys if len(k) < 16]
    if short:
        raise ServingError(
            f"{variable} holds {len(short)} API key(s) under 16 characters: use long random "
            "keys, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return keys


def _tls(raw: Any) -> Tls:
    path = "serving.tls"
    section = _section(raw, Tls, path)
    cert, key = (
        expand_environment(section[k], f"{path}.{k}") if section[k] else None
        for k in ("cert_file", "key_file")
    )
    if bool(cert) != bool(key):
        raise ServingError(f"{path} needs both cert_file and key_file (PEM files), or neither")
    for name, location in (("cert_file", cert), ("key_file", key)):
        if location and not os.path.isfile(location):
            raise ServingError(f"{path}.{name} {location} is not a file: give a PEM file's path")
    return Tls(cert_file=cert, key_file=key)


def parse_serving(raw: Any) -> ServingSettings:
    """conf's `serving:` section, checked (API keys are not read here: `with_api_keys`)."""
    if isinstance(raw, ServingSettings):
        return raw
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ServingError(f"serving is {raw!r}: give a mapping")
    top = {"limits", "auth", "tls"}
    section = _section({k: v for k, v in raw.items() if k not in top}, _Top, "serving")
    hosts = section["allowed_hosts"] or []
    if not isinstance(hosts, list | tuple) or not all(isinstance(h, str) and h for h in hosts):
        raise ServingError(f"serving.allowed_hosts is {hosts!r}: give a list of host names")
    if not isinstance(section["host"], str) or not section["host"]:
        raise ServingError(f"serving.host is {section['host']!r}: give an address to listen on")
    return ServingSettings(
        host=section["host"],
        port=_whole(section, "port", 0, 65535, "serving"),
        workers=_whole(section, "workers", 1, 256, "serving"),
        registry_ttl_seconds=_whole(section, "registry_ttl_seconds", 0, None, "serving"),
        access_log=_flag(section, "access_log", "serving"),
        allowed_hosts=tuple(h.lower() for h in hosts),
        write_routes=_flag(section, "write_routes", "serving"),
        limits=_limits(raw.get("limits")),
        auth=_auth(raw.get("auth")),
        tls=_tls(raw.get("tls")),
    )


@dataclass(frozen=True)
class _Top:
    """The plain keys of `serving:` (its sections are checked on their own)."""

    host: str = ServingSettings.host
    port: int = ServingSettings.port
    workers: int = ServingSettings.workers
    registry_ttl_seconds: int = ServingSettings.registry_ttl_seconds
    access_log: bool = ServingSettings.access_log
    allowed_hosts: tuple = ()
    write_routes: bool = ServingSettings.write_routes
