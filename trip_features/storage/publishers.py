"""Chooses how a run's tables are published, from conf's `publication:` section.

    files    a symlink swap on a local disk or NFS (trip_features.storage.file_publication)
    catalog  versioned tables behind views in a metastore, for object stores and Databricks
             (trip_features.storage.catalog_publication)

Both publish every table of a run or none, and keep what readers see whole; readers open
`reader_location(table)`: a folder for files, `<schema>.<table>` for catalog.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession

from trip_features.runtime.errors import JobError
from trip_features.runtime.settings import Settings
from trip_features.storage.file_publication import FilePublisher


def publisher_for(spark: SparkSession, conf: Settings, out: str):
    """The publisher conf chooses, publishing into `out`."""
    section = conf.publication
    _same_kind_as_before(Path(out), section.kind)
    if section.kind == "catalog":
        from trip_features.storage.catalog_publication import CatalogPublisher

        return CatalogPublisher(spark, out, section.schema_name, section.retention)
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


def read_published(spark: SparkSession, conf: Settings, table: str, out: str | None = None):
    """A published table as readers see it: the view (catalog) or the folder (files)."""
    publisher = publisher_for(spark, conf, out or conf.paths.features)
    location = publisher.reader_location(table)
    if conf.publication.kind == "catalog":
        return spark.table(location)
    return spark.read.parquet(location)
