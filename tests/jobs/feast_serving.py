"""Asks `feast serve`, started on a free loopback port and stopped by its pid, for features."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd

PROJECT = Path(__file__).resolve().parents[2]


def latest_per_driver(table: pd.DataFrame) -> pd.DataFrame:
    """Each driver's latest row: what the online store must serve."""
    ordered = table.sort_values(["driver_id", "event_timestamp", "created"])
    return ordered.groupby("driver_id").tail(1).set_index("driver_id").sort_index()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask_feast_serve(repo: Path, drivers: list[int], service: str = "driver_activity_v1") -> dict:
    """Starts `feast -c repo serve`, posts one get-online-features request, stops the server."""
    port = _free_port()
    feast = Path(sys.executable).with_name("feast")
    server = subprocess.Popen(
        [str(feast), "-c", str(repo), "serve", "-h", "127.0.0.1", "-p", str(port)]
        + ["--no-access-log"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=PROJECT,
        env=dict(os.environ),
    )
    body = json.dumps({"feature_service": service, "entities": {"driver_id": drivers}}).encode()
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/get-online-features",
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
                return json.loads(urllib.request.urlopen(request, timeout=5).read())
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "feast serve did not answer within 120 s"
                time.sleep(1)
    finally:
        server.terminate()
        server.wait(timeout=30)


def served(answer: dict, feature: str) -> list:
    """The values `feast serve` answered for one feature, in entity order."""
    names = answer["metadata"]["feature_names"]
    return answer["results"][names.index(feature)]["values"]
