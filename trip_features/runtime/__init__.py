"""Run-time edges: configuration, the Spark session, the command line."""
