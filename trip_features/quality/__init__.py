"""Data quality edges: the input gate, output checks, the quality report."""
