# Databricks notebook source
# MAGIC %md
# MAGIC # Compute the trip features
# MAGIC Runs `jobs.compute_features` on this notebook's `spark`: reads the trips, applies the quality
# MAGIC rules, computes every feature table and publishes them all at once (with
# MAGIC `--env databricks`: as views over versioned catalog tables), then shows the quality report.
# MAGIC
# MAGIC Needs the project's wheel on the cluster (a cluster library, or the bundle's job).
# MAGIC Parameters: `env` (conf overlay), `overrides` (`key=value;key=value`), `start`, `end`.

# COMMAND ----------

dbutils.widgets.text("env", "databricks")
dbutils.widgets.text("overrides", "")
dbutils.widgets.text("start", "")
dbutils.widgets.text("end", "")

# COMMAND ----------

from jobs import compute_features
from trip_features.runtime.config import load_config

overrides = [o.strip() for o in dbutils.widgets.get("overrides").split(";") if o.strip()]
conf = load_config(dbutils.widgets.get("env"), overrides)
report = compute_features.run(
    spark,
    conf,
    start=dbutils.widgets.get("start") or None,
    end=dbutils.widgets.get("end") or None,
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## What the run read, kept and wrote

# COMMAND ----------

from trip_features.quality.report import counts

display(spark.createDataFrame(counts(report), "measure string, value long"))

# COMMAND ----------

from trip_features.storage.publishers import read_published

display(read_published(spark, conf, "driver_activity").orderBy("event_timestamp").limit(20))
