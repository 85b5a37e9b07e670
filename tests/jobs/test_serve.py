"""`jobs.serve`'s store keeps the feature services it has read until the registry changes, and
the server refuses, before it starts, what it cannot serve."""

import shutil
import socket

import pytest

from definitions.feature_store import feature_store
from jobs import serve
from runtime.config import apply_override

SERVICE = "driver_activity_v1"


@pytest.fixture
def own_registry(feast_conf, tmp_path):
    """The registered definitions, in a registry file of the test's own."""
    conf, _ = feast_conf
    shutil.copy(conf["paths"]["registry"], tmp_path / "registry.db")
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


@pytest.mark.parametrize(
    "setting, said",
    [
        ("serving.workers=0", "serving.workers is 0: give a whole number from 1 to 256"),
        ("serving.port=70000", "serving.port is 70000: give a whole number from 0 to 65535"),
        ("serving.max_requests=-1", "serving.max_requests is -1: give a whole number of 0 or"),
        ("serving.registry_ttl_seconds=soon", "serving.registry_ttl_seconds is 'soon'"),
    ],
)
def test_bad_serving_settings_are_named(own_registry, setting, said):
    with pytest.raises(serve.ServeError, match=said):
        serve.serve(apply_override(own_registry, setting))


def test_a_port_in_use_is_named(own_registry):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(serve.ServeError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            serve.serve(apply_override(own_registry, f"serving.port={port}"))
