"""The Feast job tests share the registered features of tests/conftest.py (feast_conf,
redis_conf), which the feature server's tests use too."""
