"""No credentials in committed configuration: secrets come from the environment (${NAME})."""

import re
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
SECRET_KEYS = re.compile(r"(password|passwd|secret|token|access_key|api_key|credential)", re.I)


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, str(i)))
    else:
        yield path, node


def test_configuration_holds_no_literal_secrets():
    files = sorted(PROJECT.glob("conf/*.yaml")) + [PROJECT / "feature_repo" / "feature_store.yaml"]
    assert len(files) >= 3
    for path in files:
        for keys, value in _leaves(yaml.safe_load(path.read_text())):
            if any(SECRET_KEYS.search(k) for k in keys) and value not in (None, ""):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+\}", str(value)), (
                    f"{path.name}: {'.'.join(keys)} must come from the environment, as ${{NAME}}"
                )
