"""`jobs.serve`'s store keeps the feature services it has read until the registry changes; the
server refuses, before it starts, what it cannot serve; as deployed it serves TLS to key holders."""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time

import pytest

from definitions.feature_store import feature_store
from jobs import serve
from tests.jobs.feast_serving import PROJECT
from trip_features.runtime.config import apply_override
from trip_features.runtime.serving_settings import ServingError

SERVICE = "driver_activity_v1"


@pytest.fixture
def own_registry(feast_conf, tmp_path):
    """The registered definitions, in a registry file (and online store) of the test's own."""
    conf, _ = feast_conf
    shutil.copy(conf.paths.registry, tmp_path / "registry.db")
    shutil.copy(conf.paths.online_store, tmp_path / "online.db")
    conf = apply_override(conf, f"paths.online_store={tmp_path / 'online.db'}")
    return apply_override(conf, f"paths.registry={tmp_path / 'registry.db'}")


def test_a_service_is_read_once_and_again_after_a_registration(own_registry):
    store = feature_store(own_registry)
    first = store.get_feature_service(SERVICE, allow_cache=True)
    assert store.get_feature_service(SERVICE, allow_cache=True) is first
    assert first == store.get_feature_service(SERVICE)  # as Feast reads it from the registry

    # Another process registers a changed service: the next request reads the local registry
    # file again (it is newer) and serves the new service.
    elsewhere = feature_store(own_registry)
    for text in ("changed after the server started", "changed again"):
        changed = elsewhere.get_feature_service(SERVICE)
        changed.description = text
        elsewhere.apply([changed])
        if text == "changed again":
            store.refresh_registry()  # what the server does every serving.registry_ttl_seconds
        again = store.get_feature_service(SERVICE, allow_cache=True)
        assert again is not first
        assert again.description == text
        assert store.get_feature_service(SERVICE, allow_cache=True) is again
        first = again


def test_without_a_registry_the_server_says_to_register(tmp_path, capsys):
    missing = tmp_path / "none" / "registry.db"
    code = serve.main(["--set", f"paths.registry={missing}", "--port", "0"])
    assert code == 2
    assert (
        f"no Feast registry at {missing}: register the definitions first" in capsys.readouterr().err
    )


def test_a_port_in_use_is_named(own_registry):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServingError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            serve.serve(apply_override(own_registry, f"serving.port={port}"))


def test_a_network_address_without_auth_and_tls_is_refused_before_listening(own_registry, capsys):
    overrides = [
        a for o in (f"paths.registry={own_registry.paths.registry}",) for a in ("--set", o)
    ]
    code = serve.main([*overrides, "--host", "0.0.0.0", "--port", "0"])
    assert code == 2
    said = capsys.readouterr().err
    assert "serving.host 0.0.0.0 answers other machines, without auth and tls" in said
    assert "--insecure" in said


@pytest.mark.slow
def test_the_job_serves_over_tls_to_key_holders_only(own_registry, tmp_path):
    """`python -m jobs.serve` as deployed: TLS from conf, an API key from the environment, a
    free port; stopped by its pid."""
    from tests.feature_serving.test_access import make_certificate

    cert, key = make_certificate(tmp_path)
    api_key = "a-deployment-key-0123456789"
    overrides = [
        f"paths.registry={own_registry.paths.registry}",
        f"paths.online_store={own_registry.paths.online_store}",
        f"serving.tls.cert_file={cert}",
        f"serving.tls.key_file={key}",
        "serving.auth.api_keys_env=TEST_JOB_KEYS",
    ]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "TEST_JOB_KEYS": api_key}
    server = subprocess.Popen(
        [sys.executable, "-m", "jobs.serve", "--port", str(port)]
        + [a for o in overrides for a in ("--set", o)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        context = ssl.create_default_context(cafile=cert)
        body = json.dumps({"feature_service": SERVICE, "entities": {"driver_id": [1001]}})

        def ask(headers):
            link = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
            link.request("POST", "/get-online-features", body=body, headers=headers)
            answer = link.getresponse()
            return answer.status, answer.read()

        deadline = time.monotonic() + 120
        while True:
            try:
                status, _ = ask({})
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()[-3000:]
                assert time.monotonic() < deadline, "jobs.serve did not answer within 120 s"
                time.sleep(0.1)
        assert status == 401
        status, answer = ask({"Authorization": f"Bearer {api_key}"})
        assert status == 200 and json.loads(answer)["results"]
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert f"https://127.0.0.1:{port}/get-online-features" in out
    assert "auth: API keys from TEST_JOB_KEYS" in out and api_key not in out + err
