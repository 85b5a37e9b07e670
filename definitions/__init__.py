"""Feast objects as a Hamilton DAG: each object is a function of the objects it depends on."""
