"""The quality report of a feature run as one self-contained HTML page: input counts, quarantine
reasons (with a chart over the run's dates), each table's columns with their nulls, bounds and
checks (with a chart of null shares), code versions and timings. Charts are matplotlib SVG
inside the page: it opens without a network, from a file or a mail attachment."""

from __future__ import annotations

import html
import io
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("trip_features.quality.report_page")

STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #1d2330; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #d8dde6; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eceff4; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.published, .ok { color: #1a7f37; } .failed, .fail { color: #cf222e; } .warn { color: #9a6700; }
.muted { color: #667085; }
"""


def quality_page(report: dict[str, Any]) -> str:
    """The page of one run's report (as written to JSON by trip_features.quality.report)."""
    status = str(report.get("status", "unknown"))
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Feature run {_e(report.get('run_id'))}: {_e(status)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f'<h1>Feature run <span id="run-id">{_e(report.get("run_id"))}</span>: '
        f'<span id="status" class="{_e(status)}">{_e(status)}</span></h1>',
    ]
    if report.get("error"):
        parts.append(f'<p id="error" class="failed">{_e(report["error"])}</p>')
    parts += _input_section(report)
    parts += _quarantine_section(report)
    parts += _tables_section(report)
    parts += _run_section(report)
    parts.append("</body></html>")
    return "\n".join(parts)


def _input_section(report: dict) -> list[str]:
    rows = [
        ("trips_read", "trips read"),
        ("trips_in_range", "trips in the run's dates"),
        ("trips_accepted", "trips accepted"),
        ("trips_quarantined", "trips quarantined"),
    ]
    body = "".join(
        f'<tr><th>{label}</th><td data-measure="{key}">{_n(report.get(key))}</td></tr>'
        for key, label in rows
    )
    return ["<h2>Input</h2>", f'<table id="counts">{body}</table>']


def _quarantine_section(report: dict) -> list[str]:
    reasons = report.get("quarantine_reasons") or {}
    parts = ["<h2>Quarantine</h2>"]
    if not reasons:
        return [*parts, '<p id="no-quarantine">No trip was quarantined.</p>']
    body = "".join(
        f'<tr><td>{_e(rule)}</td><td data-rule="{_e(rule)}">{_n(count)}</td></tr>'
        for rule, count in sorted(reasons.items())
    )
    parts.append(f'<table id="reasons"><tr><th>rule</th><th>trips</th></tr>{body}</table>')
    by_date = report.get("quarantine_by_date") or {}
    if by_date:
        parts.append(f'<figure id="reasons-by-date">{_reasons_chart(by_date)}</figure>')
    return parts


def _tables_section(report: dict) -> list[str]:
    parts = ["<h2>Tables</h2>"]
    shares = {}
    for table, info in sorted((report.get("tables") or {}).items()):
        checks = {c["column"]: c for c in info.get("checks", [])}
        parts.append(
            f'<h3>{_e(table)}: <span data-table-rows="{_e(table)}">{_n(info.get("rows"))}</span>'
            " rows</h3>"
        )
        rows = [
            "<tr><th>column</th><th>nulls</th><th>null %</th><th>min</th><th>max</th>"
            "<th>check</th></tr>"
        ]
        for column, stats in (info.get("columns") or {}).items():
            if table != "quarantine":  # its nulls are the reasons rows were quarantined
                shares[f"{table}.{column}"] = 100 * float(stats.get("null_fraction") or 0)
            verdict, kind = _verdict(checks.get(column))
            rows.append(
                f'<tr data-column="{_e(table)}.{_e(column)}"><td>{_e(column)}</td>'
                f'<td data-nulls="{_e(table)}.{_e(column)}">{_n(stats.get("nulls"))}</td>'
                f"<td>{100 * float(stats.get('null_fraction') or 0):.2f}</td>"
                f"<td>{_e(_short(stats.get('min')))}</td><td>{_e(_short(stats.get('max')))}</td>"
                f'<td class="{kind}">{_e(verdict)}</td></tr>'
            )
        parts.append(f"<table>{''.join(rows)}</table>")
    if shares:
        parts.append(f'<figure id="null-shares">{_null_chart(shares)}</figure>')
    return parts


def _run_section(report: dict) -> list[str]:
    versions = report.get("code_versions") or {}
    seconds = report.get("seconds") or {}
    rows = "".join(
        f"<tr><td>{_e(t)}</td><td><code>{_e(v)}</code></td></tr>"
        for t, v in sorted(versions.items())
    )
    timing = "".join(
        f"<tr><td>{_e(k)}</td><td>{float(v):.1f}</td></tr>" for k, v in seconds.items()
    )
    return [
        "<h2>Run</h2>",
        '<p class="muted">Code versions: what made each table (docs/lineage.md).</p>',
        f'<table id="code-versions"><tr><th>table</th><th>code version</th></tr>{rows}</table>',
        f'<table id="seconds"><tr><th>stage</th><th>seconds</th></tr>{timing}</table>',
    ]


def _verdict(check: dict | None) -> tuple[str, str]:
    if check is None:
        return "", ""
    if check["passed"]:
        return "ok", "ok"
    importance = check.get("importance", "fail")
    return f"{importance}: {'; '.join(check.get('problems', []))}", importance


def _reasons_chart(by_date: dict[str, dict[str, int]]) -> str:
    """Stacked bars: quarantined trips per date, one colour per rule."""
    from matplotlib.figure import Figure

    dates = sorted(by_date)
    rules = sorted({rule for counts in by_date.values() for rule in counts})
    figure = Figure(figsize=(9, 3.2))
    axes = figure.subplots()
    bottom = [0] * len(dates)
    for rule in rules:
        values = [by_date[d].get(rule, 0) for d in dates]
        axes.bar(dates, values, bottom=bottom, label=rule)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_title("Quarantined trips per date and rule")
    axes.set_ylabel("trips")
    axes.tick_params(axis="x", labelrotation=45, labelsize=8)
    axes.legend(fontsize=8, loc="upper right")
    return _svg(figure)


def _null_chart(shares: dict[str, float]) -> str:
    """Horizontal bars: the share of nulls in each column of each table."""
    from matplotlib.figure import Figure

    names = list(shares)
    figure = Figure(figsize=(9, 0.28 * len(names) + 1.2))
    axes = figure.subplots()
    axes.barh(names, [shares[n] for n in names], color="#4c78a8")
    axes.invert_yaxis()
    axes.set_xlabel("null %")
    axes.set_xlim(0, max(1.0, max(shares.values()) * 1.15))
    axes.set_title("Nulls per column")
    axes.tick_params(axis="y", labelsize=8)
    figure.tight_layout()
    return _svg(figure)


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: no XML declaration or doctype


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _n(value) -> str:
    return "-" if value is None else str(value)


def _short(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_quality_page(report: dict[str, Any], folder: str | os.PathLike) -> Path:
    """Writes `<folder>/<run_id>.html` and `latest.html` beside the JSON report."""
    folder = Path(folder)
    page = quality_page(report)
    path = folder / f"{report['run_id']}.html"
    for target in (path, folder / "latest.html"):
        temporary = target.with_suffix(".html.tmp")
        temporary.write_text(page)
        os.replace(temporary, target)
    return path
