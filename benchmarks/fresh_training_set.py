"""A small training set in a fresh process, this checkout against an earlier one, alternated in
one run (these machines are shared and noisy):

    git worktree add /tmp/before <commit>
    .venv/bin/python -m benchmarks.fresh_training_set --before /tmp/before [--rows 5000]
        [--repeats 5]

Each checkout computes and registers the features of the same 200,000 sample trips with its own
code, in a folder of its own; then `python -m jobs.training_set` of --rows entity rows (random
drivers and moments, the same file for both) runs in a fresh process, in each checkout in turn
(its folder as working directory and PYTHONPATH, this interpreter), --repeats times per service.
Prints the median wall seconds, the job's own seconds (from its log), and now / before.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.training_set_latency import _JOB_SECONDS, _entities

PROJECT = Path(__file__).resolve().parents[1]
SERVICES = ("driver_activity_v1", "driver_trips_v1")
_REGISTER = (
    "import sys; from pathlib import Path; "
    "from benchmarks.training_set_latency import registered_features; "
    "print('\\n'.join(registered_features(Path(sys.argv[1]), int(sys.argv[2]))))"
)


def _env(checkout: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(checkout)}


def _prepare(checkout: Path, root: Path, trips: int) -> list[str]:
    """The checkout's own features of the sample trips: the conf overrides pointing at them."""
    done = subprocess.run(
        [sys.executable, "-c", _REGISTER, str(root), str(trips)],
        cwd=checkout,
        env=_env(checkout),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return [line for line in done.stdout.splitlines() if line.startswith("paths.")]


def _fresh(checkout: Path, settings: list[str], entities: Path, service: str, out: Path):
    command = [sys.executable, "-m", "jobs.training_set", "--entities", str(entities)]
    command += ["--service", service, "--out", str(out), "--overwrite"]
    for setting in settings:
        command += ["--set", setting]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=checkout, env=_env(checkout), capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    found = _JOB_SECONDS.search(done.stderr + done.stdout)
    return wall, float(found.group(1)) if found else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, type=Path, help="an earlier checkout")
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--trips", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fresh-training-set-"))
    checkouts = {"before": args.before.resolve(), "now": PROJECT}
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        settings = {n: _prepare(path, root / n, args.trips) for n, path in checkouts.items()}
        entities = root / "entities.parquet"
        _entities(root / "now" / "features", args.rows, entities)
        for service in SERVICES:
            for name, path in checkouts.items():  # one untimed run each: caches warm alike
                _fresh(path, settings[name], entities, service, root / f"out-{name}")
            for _ in range(args.repeats):
                for name, path in checkouts.items():
                    took = _fresh(path, settings[name], entities, service, root / f"out-{name}")
                    times.setdefault((service, name), []).append(took)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{args.rows:,} entity rows in a fresh process, medians of {args.repeats} alternated")
    print(f"{'service':<20} {'before s (job s)':>17} {'now s (job s)':>15} {'now / before':>13}")
    for service in SERVICES:
        before, now = (times[(service, name)] for name in checkouts)
        wall = [statistics.median(w for w, _ in runs) for runs in (before, now)]
        job = [statistics.median(j for _, j in runs) for runs in (before, now)]
        print(
            f"{service:<20} {wall[0]:9.1f} ({job[0]:4.1f}) {wall[1]:7.1f} ({job[1]:4.1f})"
            f" {wall[1] / wall[0]:12.2f}x"
        )


if __name__ == "__main__":
    main()
