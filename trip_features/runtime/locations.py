"""What a location names, decided in one place: a URI (an object store, a remote file system), a
Spark table (`name` or `schema.name`), or a local path. Locations come from conf's `paths`, from
`--trips`, `--entities`, `--out` and the registry's setting."""

from __future__ import annotations

import os
import re

from trip_features.runtime.errors import ConfigError

_TABLE = re.compile(r"^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*){0,2}$")  # [catalog.][schema.]name


def is_uri(location: str) -> bool:
    """Whether `location` is a URI (s3://, abfss://, dbfs:/..., file://): no local path."""
    return "://" in str(location)


def is_local(location: str) -> bool:
    """Whether `location` is a path on this machine's file systems."""
    return not is_uri(location)


def is_table_name(location: str) -> bool:
    """Whether `location` names a Spark table: `name`, `schema.name` or `catalog.schema.name`,
    and no file or folder of that name exists here (`trips.parquet` is a file's name)."""
    text = str(location)
    return bool(_TABLE.match(text)) and not text.endswith(".parquet") and not os.path.exists(text)


def expand_environment(value: str, key: str) -> str:
    """${NAME} and ${NAME:-default} in a location, from the environment (a cluster's variables
    carry a deployment's locations; secrets are expanded only where they are used)."""

    def one(found: re.Match) -> str:
        name, default = found.group(1), found.group(3)
        if name in os.environ:
            return os.environ[name]
        if default is None:
            raise ConfigError(
                f"{key} needs {name} in the environment (or write ${{{name}:-default}})"
            )
        return default

    return re.sub(r"\$\{(\w+)(:-([^}]*))?\}", one, str(value))
