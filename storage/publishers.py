"""Chooses how a run's tables are published, from conf's `publication:` section.

    files    a symlink swap on a local disk or NFS (storage.file_publication)
    catalog  versioned tables behind views in a metastore, for object stores and Databricks
             (storage.catalog_publication)

Both publish every table of a run or none, and keep what readers see whole; readers open
`reader_location(table)`: a folder for files, `<schema>.<table>` for catalog.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from runtime.errors import JobError
from storage.file_publication import FilePublisher

KINDS = ("files", "catalog")


def publication_conf(conf: dict[str, Any]) -> dict[str, Any]:
    """conf's `publication:` section, checked."""
    section = {"kind": "files", "schema": "trip_features", "retention": "7d"}
    section.update(conf.get("publication") or {})
    if section["kind"] not in KINDS:
        raise JobError(
            f"publication.kind {section['kind']!r} is not one of {list(KINDS)}: files for a local "
            "disk or NFS, catalog for object stores and Databricks"
        )
    section["retention"] = parse_duration(section["retention"], "publication.retention")
    return section


def publisher_for(spark: SparkSession, conf: dict[str, Any], out: str):
    """The publisher conf chooses, publishing into `out`."""
    section = publication_conf(conf)
    _same_kind_as_before(Path(out), section["kind"])
    if section["kind"] == "catalog":
        from storage.catalog_publication import CatalogPublisher

        return CatalogPublisher(spark, out, section["schema"], section["retention"])
    return FilePublisher(out)


def _same_kind_as_before(out: Path, kind: str) -> None:
    """One folder, one kind of publication: each cleans up versions the other still reads."""
    files = (out / ".current").is_symlink()
    catalog = any((out / ".versions").glob("*/_manifest.json"))
    found = "files" if files else "catalog" if catalog else None
    if found is not None and found != kind:
        raise JobError(
            f"{out} holds tables published with publication.kind={found}: publish there with "
            f"the same kind, or give --out (paths.features) a folder of its own for {kind}"
        )


def parse_duration(value, key: str) -> dt.timedelta:
    found = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", str(value))
    if not found:
        raise JobError(f"{key} {value!r} must be a duration like 30m, 12h or 7d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[found.group(2)]
    return dt.timedelta(**{unit: int(found.group(1))})


def read_published(spark: SparkSession, conf: dict[str, Any], table: str, out: str | None = None):
    """A published table as readers see it: the view (catalog) or the folder (files)."""
    publisher = publisher_for(spark, conf, out or conf["paths"]["features"])
    location = publisher.reader_location(table)
    if publication_conf(conf)["kind"] == "catalog":
        return spark.table(location)
    return spark.read.parquet(location)
