"""The data quality report of a feature run: JSON next to the output, and a readable table."""

import dataclasses
import json
import logging
import os
from pathlib import Path

log = logging.getLogger("trip_features.quality.report")
REPORTS = "_reports"


def write_quality_report(report, out: str) -> Path:
    """Writes `<out>/_reports/<run_id>.json` (and latest.json), its HTML page beside it
    (trip_features.quality.report_page), and logs the table; returns the JSON's path."""
    folder = Path(out) / REPORTS
    folder.mkdir(parents=True, exist_ok=True)
    fields = {k: v for k, v in dataclasses.asdict(report).items() if not k.startswith("_")}
    body = json.dumps(fields, indent=2, sort_keys=True, default=str)
    path = folder / f"{report.run_id}.json"
    for target in (path, folder / "latest.json"):
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(body)
        os.replace(tmp, target)
    log.info("quality report %s\n%s", path, render(report))
    try:
        from trip_features.quality.report_page import write_quality_page

        page = write_quality_page(fields, folder)
        log.info("quality page %s", page)
    except Exception as err:  # the JSON is the record; a page that cannot be drawn is no reason
        log.warning("quality page of run %s not written: %s", report.run_id, err)  # to fail a run
    return path


def render(report) -> str:
    """Counts, quarantine reasons, and per feature: nulls, min, max and checks."""
    lines = [
        f"run {report.run_id}: {report.status}" + (f" ({report.error})" if report.error else ""),
        f"trips read {report.trips_read}, in range {report.trips_in_range}: accepted "
        f"{report.trips_accepted} + quarantined {report.trips_quarantined}",
    ]
    for reason, count in report.quarantine_reasons.items():
        lines.append(f"  quarantined for {reason:<22} {count}")
    for table, info in report.tables.items():
        lines.append(f"{table}: {info['rows']} rows")
        lines.append(f"  {'column':<28} {'nulls':>8} {'null %':>7} {'min':>12} {'max':>12}  checks")
        checks = {c["column"]: c for c in info.get("checks", [])}
        for column, stats in info["columns"].items():
            check = checks.get(column)
            verdict = (
                ""
                if check is None
                else (
                    "ok"
                    if check["passed"]
                    else f"{check['importance'].upper()}: {'; '.join(check['problems'])}"
                )
            )
            lines.append(
                f"  {column:<28} {stats['nulls']:>8} {100 * stats['null_fraction']:>6.2f}% "
                f"{_short(stats['min']):>12} {_short(stats['max']):>12}  {verdict}"
            )
    return "\n".join(lines)


def _short(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)[:12]


def counts(report) -> list[tuple[str, int]]:
    """(measure, value) rows of a run: trips read, in range, accepted, quarantined per rule, rows
    written per table; a notebook shows them as a table."""
    rows = [
        ("trips read", report.trips_read),
        ("trips in range", report.trips_in_range),
        ("trips accepted", report.trips_accepted),
        ("trips quarantined", report.trips_quarantined),
    ]
    rows += [(f"quarantined: {rule}", n) for rule, n in sorted(report.quarantine_reasons.items())]
    rows += [(f"rows written: {table}", n) for table, n in sorted(report.rows_written.items())]
    return rows


def latest_report(out: str) -> dict:
    """The last run's report under `out`, as written (also a failed run's)."""
    path = Path(out) / REPORTS / "latest.json"
    if not path.exists():
        raise FileNotFoundError(f"no quality report in {path.parent}: run jobs.compute_features")
    return json.loads(path.read_text())


def column_profiles(report: dict) -> list[tuple]:
    """(table, column, nulls, min, max, checks passed) per column of a written report."""
    rows = []
    for table, info in sorted(report["tables"].items()):
        passed = {c["column"]: c["passed"] for c in info.get("checks", [])}
        for column, stats in sorted(info.get("columns", {}).items()):
            low, high = stats.get("min"), stats.get("max")
            rows.append(
                (
                    table,
                    column,
                    int(stats.get("nulls") or 0),
                    None if low is None else str(low),
                    None if high is None else str(high),
                    passed.get(column),
                )
            )
    return rows
