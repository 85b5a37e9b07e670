import pytest


@pytest.fixture(scope="session")
def graph():
    """The lineage graph of the shipped code for conf/local (as the snapshot is taken)."""
    from feature_lineage.graph import build_graph
    from runtime.config import load_config

    return build_graph(load_config("local"))
