import pytest


@pytest.fixture(scope="session")
def graph():
    """The lineage graph of the shipped code for conf/local (as the snapshot is taken)."""
    from trip_features.feature_lineage.graph import build_graph
    from trip_features.runtime.config import load_config

    return build_graph(load_config("local"))
