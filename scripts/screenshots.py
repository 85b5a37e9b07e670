"""Makes the screenshots in docs/ (the Feast UI and a quality page) from a run of its own.

    .venv/bin/python scripts/screenshots.py

In a temporary workspace: sample trips with some broken rows (so the quarantine shows),
the feature job, registration, materialization; then `jobs.ui` on a free loopback port, headless
Chromium (`chromium` on PATH) for the pictures, and the server stopped by its pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
DOCS = PROJECT / "docs"
SHOTS = {
    "ui_feature_view.png": "/p/trip_features/feature-view/driver_activity",
    "ui_feature_service.png": "/p/trip_features/feature-service/driver_trips_v1",
}


def _chromium(*args: str) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium is not installed: apt-get install chromium")
    base = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    subprocess.run([*base, *args], check=True, capture_output=True, timeout=120)


def _workspace(root: Path) -> dict:
    sys.path.insert(0, str(PROJECT))
    os.environ["TRIP_FEATURES_HOME"] = str(root)
    from jobs import compute_features, materialize, register
    from trip_features.runtime.config import load_config
    from trip_features.runtime.session import get_spark
    from trip_features.storage.sample_trips import generate_trips, write_trips

    conf = load_config("local")
    frame = generate_trips(rows=20_000, days=7, seed=3, drivers=200)
    frame.loc[frame.index[::211], "trip_dist"] = -1.0  # negative_distance
    frame.loc[frame.index[7::503], "trip_dist"] = 900.0  # absurd_distance
    write_trips(frame, conf.paths.trips)
    spark = get_spark(conf)
    compute_features.run(spark, conf)
    register.run(conf)
    materialize.run(conf, start="2026-01-01", end="2026-02-01")
    spark.stop()
    return conf


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="trip-features-screens-"))
    try:
        conf = _workspace(root)
        page = Path(conf.paths.features) / "_reports" / "latest.html"
        _chromium(
            "--window-size=1100,2300", f"--screenshot={DOCS / 'quality_page.png'}", page.as_uri()
        )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "jobs.ui", "--port", str(port)], cwd=PROJECT, env=os.environ
        )
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.5)
            for name, path in SHOTS.items():
                _chromium(
                    "--virtual-time-budget=15000",
                    "--window-size=1400,1000",
                    f"--screenshot={DOCS / name}",
                    f"http://127.0.0.1:{port}{path}",
                )
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
        print(f"wrote {', '.join(['quality_page.png', *SHOTS])} in {DOCS}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
