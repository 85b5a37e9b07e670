"""What the feast CLI registers: every object of the definitions DAG, built from conf/.

`feast plan` / `feast apply` inside feature_repo/ import this module (the project must be
installed); the environment comes from TRIP_FEATURES_ENV (default: local).
"""

import os

from definitions.dataflow import build_definitions
from runtime.config import load_config

globals().update(build_definitions(load_config(os.environ.get("TRIP_FEATURES_ENV", "local"))))
