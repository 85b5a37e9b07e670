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


def test_the_server_looks_up_in_a_thread_and_reads_the_kept_service_inline(
    own_registry, monkeypatch
):
    """Feast's server hops to a worker thread for each of its three calls per request; jobs.serve
    keeps the lookup there and reads the kept service and makes the answer's dict in the loop."""
    import asyncio
    import threading

    import feast.feature_server as server
    from feast.feature_server_utils import convert_response_to_dict

    store = feature_store(own_registry)
    read_proto, registry_read_in = store.registry._get_registry_proto, []

    def recorded_read(*args, **kwargs):
        registry_read_in.append(threading.get_ident())
        return read_proto(*args, **kwargs)

    store.registry._get_registry_proto = recorded_read
    monkeypatch.setattr(server, "run_in_threadpool", server.run_in_threadpool)  # undone after
    serve.answer_cheap_calls_inline()
    wrapper = server.run_in_threadpool
    serve.answer_cheap_calls_inline()
    assert server.run_in_threadpool is wrapper  # never wrapped twice

    def where(call, *args, **kwargs):
        return threading.get_ident(), call(*args, **kwargs)

    async def one_request():
        loop = threading.get_ident()
        service = await server.run_in_threadpool(
            store.get_feature_service, SERVICE, allow_cache=True
        )
        lookup_thread, response = await server.run_in_threadpool(
            where, store.get_online_features, features=service, entity_rows=[{"driver_id": 1}]
        )
        answer = await server.run_in_threadpool(convert_response_to_dict, response.proto)
        return loop, service, lookup_thread, answer

    loop, service, lookup_thread, answer = asyncio.run(one_request())
    assert service.name == SERVICE
    # The service is read in the loop (no thread hop); the lookup, which reads the registry too,
    # in a thread: a store that waits on I/O never blocks the loop.
    assert registry_read_in[0] == loop
    assert lookup_thread != loop and set(registry_read_in[1:]) == {lookup_thread}
    assert answer["metadata"]["feature_names"][0] == "driver_id"
    assert len(answer["results"][0]["values"]) == 1
