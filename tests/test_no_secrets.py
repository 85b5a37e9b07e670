"""No credentials in committed configuration: secrets come from the environment (${NAME}) or, in
the Databricks bundle, from a secret scope ({{secrets/<scope>/<key>}})."""

import re
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
SECRET_KEYS = re.compile(
    r"(password|passwd|secret|token|access_key|api_key|credential|redis)", re.I
)
NAMES_NOT_SECRETS = {"secret_scope", "secret_key", "type", "redis_type", "description"}
REFERENCE = re.compile(r"\$\{[A-Z0-9_]+\}|\{\{secrets/.+/[\w-]+\}\}")


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, str(i)))
    else:
        yield path, node


def _configuration_files() -> list[Path]:
    return (
        sorted(PROJECT.glob("conf/*.yaml"))
        + [PROJECT / "feature_repo" / "feature_store.yaml", PROJECT / "databricks.yml"]
        + sorted(PROJECT.glob("resources/*.yml"))
    )


def test_configuration_holds_no_literal_secrets():
    files = _configuration_files()
    assert len(files) >= 7
    for path in files:
        for keys, value in _leaves(yaml.safe_load(path.read_text())):
            where = f"{path.name}: {'.'.join(keys)}"
            if "password=" in str(value):  # a connection string
                assert re.search(r"password=(\$\{|\{\{secrets/|\.\.\.)", str(value)), where
            if not any(SECRET_KEYS.search(k) for k in keys) or value in (None, ""):
                continue
            if set(keys) & NAMES_NOT_SECRETS:
                continue  # where a secret is kept, or words about it: not a secret
            assert REFERENCE.fullmatch(str(value)), (
                f"{where} must come from the environment (${{NAME}}) or a secret scope "
                "({{secrets/<scope>/<key>}})"
            )
