"""conf's `serving:` section: checked once, each mistake named; exposure beyond loopback needs
auth and TLS (or an explicit --insecure); write routes need auth; keys come from the
environment."""

from __future__ import annotations

import pytest

from trip_features.runtime.config import apply_override
from trip_features.runtime.serving_settings import ServingError, is_loopback

KEYS = {"TEST_KEYS": "a-key-of-twenty-characters,another-key-of-20-chars"}


def _settings(conf, *overrides, environ=None):
    return apply_override(conf, *overrides).serving.with_api_keys(environ or {})


def test_the_shipped_settings_serve_loopback_read_only_without_auth(conf):
    settings = _settings(conf)
    assert settings.host == "127.0.0.1" and not settings.write_routes
    assert not settings.auth.enabled and not settings.tls.enabled
    assert settings.refuse_unsafe_exposure(insecure=False) is None
    assert set(settings.answered_hosts()) == {"127.0.0.1", "localhost", "::1"}


@pytest.mark.parametrize(
    "override, said",
    [
        ("serving.workers=0", "serving.workers is 0: give a whole number from 1 to 256"),
        ("serving.port=70000", "serving.port is 70000: give a whole number from 0 to 65535"),
        ("serving.port=true", "serving.port is True"),
        ("serving.registry_ttl_seconds=soon", "serving.registry_ttl_seconds is 'soon'"),
        ("serving.access_log=maybe", "serving.access_log is 'maybe': give true or false"),
        ("serving.max_requests=5", r"serving has unknown key\(s\) \['max_requests'\]"),
        ("serving.limits.max_body_bytes=lots", "max_body_bytes is 'lots': give a size"),
        ("serving.limits.max_body_bytes=10", "max_body_bytes is 10: give 1k or more"),
        ("serving.limits.read_timeout_seconds=0", "read_timeout_seconds is 0"),
        ("serving.limits.max_connections=-1", "max_connections is -1"),
        ("serving.limits.burst=3", r"serving.limits has unknown key\(s\) \['burst'\]"),
        ("serving.allowed_hosts=example.com", "serving.allowed_hosts is 'example.com'"),
        ("serving.auth.api_keys_env=NOT_SET_ANYWHERE", "names NOT_SET_ANYWHERE, which is not set"),
        ("serving.auth.oidc.issuer=https://x", "serving.auth.oidc needs audience, jwks_url too"),
        ("serving.tls.cert_file=/no/such.pem", "needs both cert_file and key_file"),
    ],
)
def test_each_mistake_is_named(conf, override, said):
    with pytest.raises(ServingError, match=said):
        _settings(conf, override)


def test_short_api_keys_are_refused_and_keys_never_come_from_conf(conf):
    with pytest.raises(ServingError, match="1 API key.s. under 16 characters"):
        _settings(conf, "serving.auth.api_keys_env=K", environ={"K": "short,long-enough-key-0123"})
    settings = _settings(conf, "serving.auth.api_keys_env=TEST_KEYS", environ=KEYS)
    assert settings.auth.api_keys == tuple(KEYS["TEST_KEYS"].split(","))
    assert "TEST_KEYS" in settings.auth.describe() and "twenty" not in settings.auth.describe()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "feature-server.internal"])
def test_any_address_but_loopback_needs_auth_and_tls_or_insecure(conf, tmp_path, host):
    host_setting = f'serving.host="{host}"'  # quoted: YAML reads a bare :: as a mapping
    open_settings = _settings(conf, host_setting)
    with pytest.raises(ServingError, match="without auth and tls: set serving.auth.api_keys_env"):
        open_settings.refuse_unsafe_exposure(insecure=False)
    assert open_settings.refuse_unsafe_exposure(insecure=True).startswith("INSECURE")
    with pytest.raises(ServingError, match="without tls"):
        _settings(
            conf, host_setting, "serving.auth.api_keys_env=TEST_KEYS", environ=KEYS
        ).refuse_unsafe_exposure(insecure=False)
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    safe = _settings(
        conf,
        host_setting,
        "serving.auth.api_keys_env=TEST_KEYS",
        f"serving.tls.cert_file={tmp_path / 'c.pem'}",
        f"serving.tls.key_file={tmp_path / 'k.pem'}",
        environ=KEYS,
    )
    assert safe.refuse_unsafe_exposure(insecure=False) is None
    assert safe.scheme == "https" and safe.answered_hosts() == (host,)


def test_write_routes_need_auth_even_on_loopback(conf):
    with pytest.raises(ServingError, match="write_routes is on without authentication"):
        _settings(conf, "serving.write_routes=true").refuse_unsafe_exposure(insecure=True)
    settings = _settings(
        conf, "serving.write_routes=true", "serving.auth.api_keys_env=TEST_KEYS", environ=KEYS
    )
    assert settings.refuse_unsafe_exposure(insecure=False) is None


def test_allowed_hosts_add_names_and_a_star_answers_any(conf):
    settings = _settings(conf, "serving.allowed_hosts=[Features.Example.com]")
    assert "features.example.com" in settings.answered_hosts()
    assert _settings(conf, "serving.allowed_hosts=['*']").answered_hosts() is None


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.8.0.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("localhost.evil", False),
    ],
)
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback
