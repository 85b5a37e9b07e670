"""Feature runs: the feature tables computed, checked and published together (the engine
behind jobs.compute_features and jobs.pipeline)."""
