"""Which code made a feature table: its code version, recorded with every published date and
carried by its feature view as a Feast tag.

A table's code version hashes the fingerprints of every node upstream of it in the lineage graph
(each engine's body and the helpers they call, trip_features.feature_lineage.fingerprints), the
catalogue's declaration of its features and the quality settings that choose its rows. The feature
job writes it into each date folder it publishes (`_code_version`: Spark and Feast skip files whose
names start with `_`, and both publishers keep a date folder's files together), so a table whose
dates came from different code says so.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from definitions.code_version_tag import CODE_VERSION_TAG, UNKNOWN
from trip_features.feature_lineage.fingerprints import digest
from trip_features.runtime.settings import Settings

__all__ = ["CODE_VERSION_TAG", "UNKNOWN", "published_versions", "table_code_versions"]
SIDECAR = "_code_version"
MIXED = "mixed"  # dates of the table were made by different code

_cache: dict[str, dict[str, str]] = {}


def table_code_versions(conf: Settings) -> dict[str, str]:
    """Table -> the code version the code here would publish it with, for conf."""
    from transforms.feature_catalogue import Catalogue
    from transforms.feature_tables import TABLES

    key = conf.features.model_dump_json() + conf.quality.model_dump_json()
    if key not in _cache:
        graph = transforms_graph(conf)
        catalogue = Catalogue.from_conf(conf.features)
        quality = json.dumps(conf.quality.model_dump(mode="json"), sort_keys=True)
        versions = {}
        for table in TABLES:
            nodes = sorted(graph.upstream(table) | {table})
            code = [f"{n}={graph.nodes[n].code}" for n in nodes if graph.nodes[n].code]
            declared = [dataclasses.asdict(f) for f in catalogue.features(table)]
            versions[table] = digest(*code, json.dumps(declared, sort_keys=True), quality)
        _cache[key] = versions
    return dict(_cache[key])


def record(table_folder: Path, version: str) -> int:
    """Writes `version` into every date folder of a staged table; returns how many."""
    dates = [d for d in Path(table_folder).iterdir() if d.is_dir()]
    for date in dates:
        (date / SIDECAR).write_text(version + "\n")
    return len(dates)


def versions_of_dates(date_folders: list[Path]) -> dict[str, str]:
    """Date folder name -> the code version recorded there (UNKNOWN when none is)."""
    found = {}
    for folder in date_folders:
        sidecar = Path(folder) / SIDECAR
        found[Path(folder).name] = sidecar.read_text().strip() if sidecar.exists() else UNKNOWN
    return found


def version_of_table(by_date: dict[str, str]) -> str:
    """One version for a whole table: its dates' version when they agree."""
    versions = set(by_date.values())
    if not versions:
        return UNKNOWN
    if len(versions) == 1:
        return versions.pop()
    return UNKNOWN if UNKNOWN in versions else MIXED


def published_versions(spark, conf: Settings, out: str | None = None) -> dict[str, str]:
    """Table -> the code version of what readers see now (UNKNOWN when not published, or when
    catalog tables are asked about without a Spark session)."""
    from transforms.feature_tables import TABLES
    from trip_features.storage.publishers import publisher_for

    if spark is None and conf.publication.kind == "catalog":
        return dict.fromkeys(TABLES, UNKNOWN)
    publisher = publisher_for(spark, conf, out or conf.paths.features)
    return {t: version_of_table(versions_of_dates(publisher.date_folders(t))) for t in TABLES}


_graphs: dict[str, Any] = {}


def transforms_graph(conf: Settings):
    """The lineage graph of the transforms alone (no Feast import), built once per catalogue."""
    from trip_features.feature_lineage.graph import build_graph

    key = conf.features.model_dump_json()
    if key not in _graphs:
        _graphs[key] = build_graph(conf, with_definitions=False)
    return _graphs[key]
