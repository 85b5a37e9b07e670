"""Configuration: `conf/base.yaml`, an environment overlay `conf/<env>.yaml`, then `--set` overrides.

The YAML files ship inside the package (`conf` is read with importlib.resources), so an installed
wheel needs no checkout; `--conf-dir` (or TRIP_FEATURES_CONF_DIR) points at a folder of your own.
Relative paths resolve against the workspace: TRIP_FEATURES_HOME, else the current directory.
"""

from __future__ import annotations

import copy
import os
import typing
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from trip_features.runtime.errors import ConfigError
from trip_features.runtime.locations import expand_environment, is_table_name, is_uri
from trip_features.runtime.settings import Settings

CONF_DIR_VARIABLE = "TRIP_FEATURES_CONF_DIR"
HOME_VARIABLE = "TRIP_FEATURES_HOME"
# libyaml's parser, five times the speed of the pure-Python one, with the same safe types
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def cache_folder(name: str, override_variable: str) -> Path:
    """A folder of the user's cache for `name`: $override_variable when set, else
    $XDG_CACHE_HOME/trip-features/<name> (or ~/.cache/...)."""
    if os.environ.get(override_variable):
        return Path(os.environ[override_variable])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "trip-features" / name


def default_conf_dir() -> Traversable:
    """The configuration folder: TRIP_FEATURES_CONF_DIR, else the one shipped in the package
    (a folder, or a folder inside a zip when the package travels in one, e.g. --py-files)."""
    chosen = os.environ.get(CONF_DIR_VARIABLE)
    return Path(chosen) if chosen else _shipped()


def workspace() -> Path:
    """Where relative paths (data/, the Feast registry) live: TRIP_FEATURES_HOME, else the cwd."""
    return Path(os.environ.get(HOME_VARIABLE) or os.getcwd()).resolve()


def parse_yaml(text: str) -> Any:
    """`text` as YAML's safe types (what `yaml.safe_load` gives)."""
    return yaml.load(text, Loader=_SAFE_LOADER)


def _read_yaml(path: Traversable) -> dict[str, Any]:
    try:
        content = parse_yaml(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(content, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level, found {type(content)}")
    return content


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Returns base with overlay merged in; mappings merge key by key, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def available_envs(conf_dir: Traversable | None = None) -> list[str]:
    conf_dir = conf_dir or default_conf_dir()
    names = [p.name for p in conf_dir.iterdir()] if conf_dir.is_dir() else []
    return sorted(
        n.removesuffix(".yaml") for n in names if n.endswith(".yaml") and n != "base.yaml"
    )


def _split_key(mapping: dict[str, Any], dotted: str) -> list[str]:
    """Splits `a.b.spark.sql.x` into existing keys, preferring the longest key at each level.

    Spark settings have dots in their names, so `spark.conf.spark.sql.shuffle.partitions`
    must resolve to ["spark", "conf", "spark.sql.shuffle.partitions"].
    """
    parts = dotted.split(".")
    keys: list[str] = []
    node: Any = mapping
    i = 0
    while i < len(parts):
        if not isinstance(node, dict):
            raise ConfigError(f"'{dotted}': '{'.'.join(keys)}' is a value, not a section")
        for j in range(len(parts), i, -1):
            candidate = ".".join(parts[i:j])
            if candidate in node:
                break
        else:
            # A new key: the rest of the path names it (a new Spark setting, say).
            candidate = ".".join(parts[i:]) if keys else parts[i]
            j = len(parts) if keys else i + 1
            if not keys:
                raise ConfigError(
                    f"'{dotted}' names no configuration section; known sections: "
                    f"{', '.join(sorted(mapping))}"
                )
        keys.append(candidate)
        node = node.get(candidate) if isinstance(node, dict) else None
        i = j
    return keys


def apply_override(settings: Settings, *assignments: str) -> Settings:
    """`settings` with `key.path=value` overrides, checked together like the files are."""
    conf = settings.as_mapping()
    for assignment in assignments:
        conf = _override(conf, assignment)
    return settings_from(conf)


def _override(conf: dict[str, Any], assignment: str) -> dict[str, Any]:
    """Applies one `key.path=value` override; the value is parsed as YAML (numbers, lists...)."""
    if "=" not in assignment:
        raise ConfigError(f"override '{assignment}' must look like key.path=value")
    dotted, raw = assignment.split("=", 1)
    keys = _split_key(conf, dotted.strip())
    value = parse_yaml(raw) if raw.strip() else ""
    updated = copy.deepcopy(conf)
    node = updated
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return updated


def load_config(
    env: str = "local", overrides: list[str] | None = None, conf_dir: Path | None = None
) -> Settings:
    """Loads base + the environment overlay + overrides into checked settings, with relative
    paths resolved.

    A file missing from `conf_dir` (a folder of your own) is taken from the shipped configuration,
    so a folder holding only `prod.yaml` is enough for `--env prod`."""
    folders = [Path(conf_dir)] if conf_dir else []
    folders += [d for d in (default_conf_dir(), _shipped()) if d not in folders]
    base_path = _first(folders, "base.yaml")
    if base_path is None:
        raise ConfigError(f"base.yaml is missing from {folders[0]}: it holds the shared settings")
    env_path = _first(folders, f"{env}.yaml")
    if env_path is None or env == "base":
        known = sorted({e for d in folders for e in available_envs(d)})
        raise ConfigError(
            f"unknown environment '{env}': add {folders[0] / f'{env}.yaml'} or choose one of {known}"
        )
    conf = deep_merge(_read_yaml(base_path), _read_yaml(env_path))
    for assignment in overrides or []:
        conf = _override(conf, assignment)
    conf["env"] = env
    return settings_from(conf)


def settings_from(conf: dict[str, Any]) -> Settings:
    """conf's mapping as checked settings: ${VARIABLES} of locations expanded, relative paths
    resolved against the workspace, every key and value checked (each mistake named)."""
    conf = dict(conf)
    root = workspace()
    paths = conf.get("paths")
    if isinstance(paths, dict):
        conf["paths"] = {
            k: None
            if v is None
            else resolve_path(expand_environment(v, f"paths.{k}"), root, k in MAY_BE_TABLE)
            for k, v in paths.items()
        }
    publication = conf.get("publication")
    if isinstance(publication, dict) and isinstance(publication.get("schema"), str):
        schema = expand_environment(publication["schema"], "publication.schema")
        conf["publication"] = {**publication, "schema": schema}
    try:
        return Settings.model_validate(conf)
    except ValidationError as err:
        problems = [_problem(e) for e in err.errors()]
        raise ConfigError(
            f"{len(problems)} setting(s) to fix in conf/: " + "; ".join(problems)
        ) from None


def _problem(error: Mapping[str, Any]) -> str:
    """One of pydantic's findings, said as conf/ spells it: the key, the value, what to give."""
    where = ".".join(str(part) for part in error["loc"])
    kind, message = error["type"], str(error["msg"]).removeprefix("Value error, ").strip()
    if kind == "extra_forbidden":
        known = ", ".join(_known_keys(error["loc"][:-1]))
        return f"{where} is not a setting; known here: {known} (conf/base.yaml explains each)"
    if kind == "missing":
        return f"{where} is missing"
    if isinstance(error["input"], dict):  # a rule over the section's keys together
        return f"{where}: {message}"
    return f"{where} is {error['input']!r}: {message}"


def _shipped() -> Traversable:
    return resources.files("conf")


def _first(folders: list[Traversable], name: str) -> Traversable | None:
    return next((d / name for d in folders if (d / name).is_file()), None)


# The one location of `paths:` that may name a Spark table instead of a folder
MAY_BE_TABLE = ("trips",)


def resolve_path(location: str, root: Path | None = None, may_be_table: bool = False) -> str:
    """Relative filesystem paths resolve against the workspace; URIs, and table names where a
    table may be given, stay as given."""
    location = str(location)
    if is_uri(location) or os.path.isabs(location) or may_be_table and is_table_name(location):
        return location
    return str((root or workspace()) / location)


def _known_keys(loc: tuple) -> list[str]:
    """The keys the section at `loc` takes, following the settings' models (and mappings)."""
    model: Any = Settings
    for part in loc:
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(str(part))
            model = field.annotation if field else None
        elif typing.get_origin(model) is dict:  # a mapping's key (a table, a feature)
            model = typing.get_args(model)[1]
        else:
            return []
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or name for name, f in model.model_fields.items()]
    return []
