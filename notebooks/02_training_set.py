# Databricks notebook source
# MAGIC %md
# MAGIC # Build a training set
# MAGIC Registers the Feast definitions (`jobs.register`), samples entity rows from the trips (a
# MAGIC driver, a moment after one of their trips, a label) and builds a point-in-time correct
# MAGIC training set for a feature service with `jobs.training_set`.
# MAGIC Parameters: `env`, `overrides` (`key=value;...`), `service`, `entity_rows`, `out`.

# COMMAND ----------

dbutils.widgets.text("env", "databricks")
dbutils.widgets.text("overrides", "")
dbutils.widgets.dropdown("service", "driver_trips_v1", ["driver_trips_v1", "driver_activity_v1"])
dbutils.widgets.text("entity_rows", "5000")
dbutils.widgets.text("out", "")

# COMMAND ----------

import os

from jobs import pipeline, register, training_set
from trip_features.runtime.config import load_config

overrides = [o.strip() for o in dbutils.widgets.get("overrides").split(";") if o.strip()]
conf = load_config(dbutils.widgets.get("env"), overrides)
service = dbutils.widgets.get("service")
data = os.path.dirname(conf.paths.features)
out = dbutils.widgets.get("out") or os.path.join(data, "training_sets", service)

print(register.run(conf) or "the registry is up to date")

# COMMAND ----------

entities = os.path.join(data, "training_entities")
pipeline.sample_entities(spark, conf, entities, rows=int(dbutils.widgets.get("entity_rows")))
rows = training_set.run(spark, conf, entities, service, out)
print(f"{rows} training rows for {service} in {out}")

# COMMAND ----------

display(spark.read.parquet(out).orderBy("event_timestamp", "driver_id").limit(20))
