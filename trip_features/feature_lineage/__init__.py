"""Lineage of the features: one graph, its pictures, change control and run events."""
