"""Configuration files (YAML), shipped inside the package and read with importlib.resources."""
