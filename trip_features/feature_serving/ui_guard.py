"""What `jobs.ui` answers: reads of the project's registry, pages and the UI's own files, nothing
else. Feast's UI app also mounts a REST API with write routes (a DELETE changed the registry),
serves its bundled demo registries (/registry.db is Feast's demo, not the project's) and answers
any Host name (a page elsewhere could reach it by pointing its own name at 127.0.0.1). This ASGI
wrapper refuses those before they reach it, and tells the browser to load nothing from
elsewhere (Content-Security-Policy)."""

from __future__ import annotations

import json
import logging

from trip_features.feature_serving.access import host_refusal

log = logging.getLogger("trip_features.feature_serving.ui")

READ_METHODS = ("GET", "HEAD")
PAGES = (
    "/",
    "/health",
    "/quality",
    "/projects-list.json",
    "/favicon.ico",
    "/feast-favicon-36x36.png",
    "/feast-favicon-300x300.png",
    "/logo192.png",
    "/logo512.png",
    "/manifest.json",
    "/robots.txt",
)
PREFIXES = ("/p/", "/static/", "/api/v1/", "/lineage/")
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def served_path(path: str) -> bool:
    """Whether the UI serves `path` (the project's pages, the UI's code, registry reads)."""
    return path in PAGES or (path.startswith(PREFIXES) and "/../" not in path)


class ReadOnlyUI:
    """Wraps the UI app: GET and HEAD of served paths, under answered Host names, only."""

    def __init__(self, app, answered_hosts: tuple[str, ...] | None):
        self.app, self.hosts = app, answered_hosts

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path, method = scope["path"], scope["method"]
        refusal = host_refusal(headers.get("host"), self.hosts)
        if refusal is not None:
            await _refuse(send, refusal.status, refusal.reason, "host", method, path)
        elif method not in READ_METHODS:
            reason = f"the UI is read-only: {method[:10]} is refused (register with jobs.register)"
            await _refuse(send, 405, reason, "method", method, path)
        elif not served_path(path):
            await _refuse(send, 404, f"{path[:60]!r} is not served", "path", method, path)
        else:
            await self.app(scope, receive, _with_headers(send))


def _with_headers(send):
    async def sending(message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
        await send(message)

    return sending


async def _refuse(send, status: int, reason: str, field: str, method: str, path: str) -> None:
    log.info("refused %d %s %s: %s", status, method, path[:80], reason)
    body = json.dumps({"error": reason, "field": field}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + SECURITY_HEADERS}
    )
    await send({"type": "http.response.body", "body": body})
