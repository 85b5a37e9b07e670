"""What the feast CLI registers: every object of the definitions DAG, built from conf/.

`feast plan` / `feast apply` inside feature_repo/ of a checkout import this module (the project
must be installed); the environment comes from TRIP_FEATURES_ENV (default: local), and relative
paths resolve against the checkout, as feature_store.yaml's do (`../data/...`). The views carry
the code versions of the published folders (catalog tables: "unknown"; `jobs.register` reads
them through its session).
"""

import os
from pathlib import Path

os.environ.setdefault("TRIP_FEATURES_HOME", str(Path(__file__).resolve().parent.parent))

from definitions.feast_dataflow import build_definitions
from trip_features.feature_lineage.code_versions import published_versions
from trip_features.runtime.config import load_config

_conf = load_config(os.environ.get("TRIP_FEATURES_ENV", "local"))
globals().update(build_definitions(_conf, code_versions=published_versions(None, _conf)))
