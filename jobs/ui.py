"""Serves Feast's web UI over the project's registry, with the lineage and quality pages beside it.

    python -m jobs.ui [--port 8888] [--env local]

Binds 127.0.0.1 (a free port unless --port is given), prints the URLs and serves until Ctrl-C:
    /                      Feast's UI: views, services, entities, on-demand views, their fields,
                           descriptions, owners and tags (code_version: the code of each table)
    /lineage/NODE          the lineage of a node (a view, a service, a feature): picture and tree
    /quality               the last feature run's quality page
Read-only: writes to the registry (Feast's REST API has them) and Feast's bundled demo files are
refused, and so is any Host name but 127.0.0.1's and conf's ui.allowed_hosts.
"""

from __future__ import annotations

import contextlib
import html
import logging
import socket
import sys
from pathlib import Path

from trip_features.runtime.errors import JobError
from trip_features.runtime.settings import Settings

log = logging.getLogger("jobs.ui")
HOST = "127.0.0.1"


class UIError(JobError):
    """The UI cannot be served as asked."""


def chosen_port(port: int | None) -> int:
    """`port` if it is free on 127.0.0.1, else a clear error; a free one when none is given."""
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port or 0))
        except OSError as err:
            raise UIError(
                f"port {port} on {HOST} is in use ({err.strerror}): give another --port, or "
                "leave it out for a free one"
            ) from err
        return probe.getsockname()[1]


def app(conf: Settings, store):
    """Feast's UI app, with /lineage/NODE and /quality in front of it, read-only: only reads of
    the project's registry and pages, under Host names of 127.0.0.1 and conf's ui.allowed_hosts."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse
    from feast.ui_server import get_app

    from trip_features.feature_serving.ui_guard import ReadOnlyUI
    from trip_features.runtime.serving_settings import LOOPBACK_NAMES

    outer = FastAPI(title="trip-features")

    @outer.get("/lineage/{node}", response_class=HTMLResponse)
    def lineage(node: str):
        return HTMLResponse(*_lineage_page(conf, node))

    @outer.get("/quality", response_class=HTMLResponse)
    def quality():
        return HTMLResponse(*_quality_page(conf))

    outer.mount("/", get_app(store, store.project, ""))
    allowed = conf.ui.allowed_hosts
    hosts = None if "*" in allowed else (*LOOPBACK_NAMES, *(h.lower() for h in allowed))
    return ReadOnlyUI(outer, hosts)


def _lineage_page(conf: Settings, node: str) -> tuple[str, int]:
    from trip_features.feature_lineage.graph import UnknownNodeError, build_graph
    from trip_features.feature_lineage.render import RenderError, picture, tree

    graph = build_graph(conf)
    name = _node_named(graph, node)
    try:
        reached = graph.upstream(name) | graph.downstream(name) | {name}
    except UnknownNodeError as err:
        return _page("Unknown node", f"<p>{html.escape(str(err))}</p>"), 404
    try:
        drawn = picture(graph.subgraph(reached), "svg").decode()
        drawn = drawn[drawn.index("<svg") :]
    except RenderError as err:
        drawn = f"<p>{html.escape(str(err))}</p>"
    code = f"code fingerprint <code>{html.escape(graph.nodes[name].code or '-')}</code>"
    if graph.nodes[name].kind == "table":
        from trip_features.feature_lineage.code_versions import table_code_versions

        version = table_code_versions(conf).get(name, "-")
        code += f"; the table's code version here: <code>{html.escape(version)}</code>"
    about = html.escape(
        graph.nodes[name].description.splitlines()[0] if graph.nodes[name].description else ""
    )
    body = (
        f"<p>{about}</p><p>{code}</p>{drawn}"
        f"<h2>Upstream</h2><pre>{html.escape(tree(graph, name, 'upstream'))}</pre>"
        f"<h2>Downstream</h2><pre>{html.escape(tree(graph, name, 'downstream'))}</pre>"
    )
    return _page(f"Lineage of {graph.nodes[name].label()}", body), 200


def _node_named(graph, node: str) -> str:
    """A node by its graph name or by its Feast name (a view's `driver_activity`)."""
    if node in graph.nodes:
        return node
    by_feast = [n for n, v in graph.nodes.items() if v.feast_name == node and v.kind != "table"]
    return by_feast[0] if by_feast else node


def _quality_page(conf: Settings) -> tuple[str, int]:
    from trip_features.quality.report import REPORTS

    page = Path(conf.paths.features) / REPORTS / "latest.html"
    if not page.exists():
        message = (
            f"No feature run has written a quality page in {page.parent} yet: run "
            "python -m jobs.compute_features (or jobs.pipeline)."
        )
        return _page("No quality report", f"<p>{html.escape(message)}</p>"), 404
    return page.read_text(), 200


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def serve(conf: Settings, port: int | None = None) -> None:
    """Serves until interrupted (Ctrl-C, SIGTERM)."""
    import uvicorn

    from definitions.feature_store import registered_store

    store = registered_store(conf)
    port = chosen_port(port)
    base = f"http://{HOST}:{port}"
    print(f"Feast UI of project {store.project}: {base}/p/{store.project}", flush=True)
    print(f"lineage of a view: {base}/lineage/driver_activity_view (any node of jobs.lineage)")
    print(f"last feature run's quality page: {base}/quality")
    print("stop with Ctrl-C", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(app(conf, store), host=HOST, port=port, log_level="warning")
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    print("stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    from trip_features.runtime.command_line import (
        answered,
        base_parser,
        configure_logging,
        load_from_args,
    )

    parser = base_parser(__doc__)
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    configure_logging()
    return answered(lambda: serve(load_from_args(args), args.port))


if __name__ == "__main__":
    sys.exit(main())
