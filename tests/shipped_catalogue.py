"""What the shipped feature catalogue (conf/base.yaml) declares, for tests that go over every
declared feature: a declaration added there is tested without editing a list here."""

from transforms.feature_catalogue import Catalogue
from trip_features.runtime.config import load_config

CATALOGUE = Catalogue.from_conf(load_config("local").features)
# The temporal table's features: the windows at the moment asked
TEMPORAL_TABLE = next(iter(CATALOGUE.temporal()))
WINDOWS = list(CATALOGUE.temporal()[TEMPORAL_TABLE])
COUNT_WINDOWS = [
    name for name, (how, _, _) in CATALOGUE.temporal()[TEMPORAL_TABLE].items() if how == "count"
]
