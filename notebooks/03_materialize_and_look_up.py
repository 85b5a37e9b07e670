# Databricks notebook source
# MAGIC %md
# MAGIC # Materialize and look features up online
# MAGIC Loads the latest feature values into the online store (Redis with `--env databricks`) with
# MAGIC `jobs.materialize`, then asks the store for a few drivers, as a model server would.
# MAGIC Parameters: `env`, `overrides` (`key=value;...`), `start`, `end`, `drivers`, `service`,
# MAGIC `at` (the moment asked, UTC: driver windows are of the trips before it; empty: now).

# COMMAND ----------

dbutils.widgets.text("env", "databricks")
dbutils.widgets.text("overrides", "")
dbutils.widgets.text("start", "")
dbutils.widgets.text("end", "")
dbutils.widgets.text("drivers", "1000,1001,1002")
dbutils.widgets.dropdown("service", "driver_activity_v1", ["driver_activity_v1", "driver_trips_v1"])
dbutils.widgets.text("at", "")

# COMMAND ----------

from jobs import materialize
from trip_features.runtime.config import load_config

overrides = [o.strip() for o in dbutils.widgets.get("overrides").split(";") if o.strip()]
conf = load_config(dbutils.widgets.get("env"), overrides)
start, end = dbutils.widgets.get("start") or None, dbutils.widgets.get("end") or None
seconds = materialize.run(conf, start=start, end=end, incremental=start is None)
print(f"materialized in {seconds:.1f} s")

# COMMAND ----------

import pandas as pd

drivers = [int(d) for d in dbutils.widgets.get("drivers").split(",") if d.strip()]
at = pd.Timestamp(dbutils.widgets.get("at"), tz="UTC") if dbutils.widgets.get("at") else None
online = materialize.lookup(conf, drivers, dbutils.widgets.get("service"), at)
display(online)
