"""What the feast CLI registers: every object of the definitions DAG, built from conf/.

`feast plan` / `feast apply` inside feature_repo/ import this module; the environment comes from
TRIP_FEATURES_ENV (default: local).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from definitions.dataflow import build_definitions  # noqa: E402
from jobs.config import load_config  # noqa: E402

globals().update(build_definitions(load_config(os.environ.get("TRIP_FEATURES_ENV", "local"))))
