"""Configuration: `conf/base.yaml`, an environment overlay `conf/<env>.yaml`, then `--set` overrides."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = PROJECT_ROOT / "conf"


class ConfigError(ValueError):
    """The configuration is missing, malformed, or an override names no key."""


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        content = yaml.safe_load(path.read_text()) or {}
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


def available_envs(conf_dir: Path = CONF_DIR) -> list[str]:
    return sorted(p.stem for p in conf_dir.glob("*.yaml") if p.stem != "base")


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


def apply_override(conf: dict[str, Any], assignment: str) -> dict[str, Any]:
    """Applies one `key.path=value` override; the value is parsed as YAML (numbers, lists...)."""
    if "=" not in assignment:
        raise ConfigError(f"override '{assignment}' must look like key.path=value")
    dotted, raw = assignment.split("=", 1)
    keys = _split_key(conf, dotted.strip())
    value = yaml.safe_load(raw) if raw.strip() else ""
    updated = copy.deepcopy(conf)
    node = updated
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return updated


def load_config(
    env: str = "local", overrides: list[str] | None = None, conf_dir: Path = CONF_DIR
) -> dict[str, Any]:
    """Loads base + the environment overlay + overrides, and resolves relative paths."""
    base_path = conf_dir / "base.yaml"
    if not base_path.exists():
        raise ConfigError(f"{base_path} is missing: it holds the settings every environment shares")
    env_path = conf_dir / f"{env}.yaml"
    if not env_path.exists():
        raise ConfigError(
            f"unknown environment '{env}': add {env_path} or choose one of {available_envs(conf_dir)}"
        )
    conf = deep_merge(_read_yaml(base_path), _read_yaml(env_path))
    for assignment in overrides or []:
        conf = apply_override(conf, assignment)
    conf["env"] = env
    conf["paths"] = {k: resolve_path(v) for k, v in conf.get("paths", {}).items()}
    return conf


def resolve_path(location: str) -> str:
    """Relative filesystem paths resolve against the project root; URIs and tables stay as given."""
    if "://" in location or location.startswith("/") or "." in location and "/" not in location:
        return location
    return str(PROJECT_ROOT / location)
