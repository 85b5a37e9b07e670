"""The online feature server (`python -m jobs.serve`): lookups over HTTP that can face a network.

settings.py        conf's `serving:` as one typed, checked object
lookup_request.py  a lookup's JSON body, checked against the registry, or one 4xx reason
access.py          who may ask (API keys, OIDC tokens) and which Host names are answered
http_app.py        the routes: lookups, health, metrics (writes only when conf turns them on)
http_server.py     uvicorn with read timeouts and a cap on open connections, TLS from conf
"""
