"""The Feast repository: feature_store.yaml and the module the feast CLI imports."""
