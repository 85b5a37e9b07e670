"""Entry points: each job runs as `trip-features <command>`, `python -m jobs.<job>` or
`spark-submit jobs/<job>.py` (its `main` parses arguments and calls one function), and a notebook
calls that function, `run` (with its session first where the job uses Spark: docs/running.md)."""

import os

# Hamilton imports every library it has an extension for (dask, matplotlib, polars, plotly, ...)
# when its decorators are first imported: 2.5 s of a job's start on a busy day, for nothing the
# jobs use; the extension the transforms need is loaded where they need it. A process that set
# HAMILTON_AUTOLOAD_EXTENSIONS (or ~/.hamilton.conf) keeps its choice.
os.environ.setdefault("HAMILTON_AUTOLOAD_EXTENSIONS", "0")
