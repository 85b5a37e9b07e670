"""The consistency replay's report as one self-contained HTML page: the match rate, each
feature's counts, and a chart per cause of the differences by feature, with examples (matplotlib
SVG inside the page, as the quality page: it opens without a network)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from trip_features.quality.report_page import STYLE, _e, _svg
from trip_features.quality.serving_replay import CAUSES

_WHY = {
    "code changed": "the view's code changed between serving and replay",
    "asked before the online window": "a window starting before the recent trips held online",
    "late trip": "a counted trip arrived after the request",
    "not yet materialized": "a counted trip came after the online store's materialization end",
    "ttl edge": "a snapshot row within a second of its ttl at the request time",
    "unexplained": "none of the above: the online and offline paths disagree",
}


def consistency_page(report: dict[str, Any]) -> str:
    rate = report.get("match_rate")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Consistency replay {_e(report.get('replayed_at'))}</title>",
        f"<style>{STYLE}</style></head><body>",
        f'<h1>Served against offline: <span id="match-rate">'
        f"{'-' if rate is None else f'{rate:.4%}'}</span> equal</h1>",
        f'<p class="muted">{report.get("compared", 0)} values compared, replayed '
        f"{_e(report.get('replayed_at'))}</p>",
        "<h2>Differences by cause</h2><table><tr><th>cause</th><th>differences</th>"
        "<th>meaning</th></tr>",
    ]
    for cause in CAUSES:
        count = report.get("causes", {}).get(cause, 0)
        kind = "fail" if cause == "unexplained" and count else ""
        parts.append(
            f'<tr><td class="{kind}">{_e(cause)}</td><td id="cause-{cause.replace(" ", "-")}">'
            f"{count}</td><td>{_e(_WHY[cause])}</td></tr>"
        )
    parts.append("</table>")
    for service, features in report.get("services", {}).items():
        parts.append(f"<h2>{_e(service)}</h2>")
        parts.append(
            "<table><tr><th>feature</th><th>compared</th><th>equal</th><th>missing</th>"
            "<th>extra</th><th>different</th><th>mean |served - offline|</th></tr>"
        )
        for name, r in features.items():
            mad = r.get("mean_abs_difference")
            parts.append(
                f"<tr><td>{_e(name)}</td><td>{r['compared']}</td><td>{r['equal']}</td>"
                f"<td>{r['missing']}</td><td>{r['extra']}</td><td>{r['different']}</td>"
                f"<td>{'-' if mad is None else f'{mad:.6g}'}</td></tr>"
            )
        parts.append("</table>")
        for cause in CAUSES:
            counts = {n: r["causes"].get(cause, 0) for n, r in features.items()}
            if not any(counts.values()):
                continue
            parts.append(f"<h3>{_e(cause)}</h3>")
            parts.append(_chart(cause, {n: c for n, c in counts.items() if c}))
            examples = [
                (n, e) for n, r in features.items() for e in r.get("examples", {}).get(cause, [])
            ][:10]
            parts.append(
                "<table><tr><th>feature</th><th>driver</th><th>asked at</th><th>served</th>"
                "<th>offline</th></tr>"
            )
            for name, e in examples:
                parts.append(
                    f"<tr><td>{_e(name)}</td><td>{_e(e['driver_id'])}</td>"
                    f"<td>{_e(e['request_timestamp'])}</td><td>{_e(e['served'])}</td>"
                    f"<td>{_e(e['offline'])}</td></tr>"
                )
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _chart(cause: str, counts: dict[str, int]) -> str:
    from matplotlib.figure import Figure

    names = list(counts)
    figure = Figure(figsize=(9, 0.3 * len(names) + 1.2))
    axes = figure.subplots()
    axes.barh(
        names, [counts[n] for n in names], color="#cf222e" if cause == "unexplained" else "#4c78a8"
    )
    axes.invert_yaxis()
    axes.set_xlabel("differences")
    axes.set_title(f"Differences per feature: {cause}")
    axes.tick_params(axis="y", labelsize=8)
    figure.tight_layout()
    return _svg(figure)


def write_consistency_page(report: dict[str, Any], json_path: Path) -> Path:
    """Writes the page beside its JSON (same name, .html) and consistency-latest.html."""
    page = consistency_page(report)
    path = json_path.with_suffix(".html")
    for target in (path, json_path.parent / "consistency-latest.html"):
        hidden = target.with_name(f".{target.name}")
        hidden.write_text(page)
        os.replace(hidden, target)
    return path
