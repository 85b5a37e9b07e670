# Databricks notebook source
# MAGIC %md
# MAGIC # Data quality and lineage
# MAGIC The last feature run's quality report (what was read, quarantined and why, each column's
# MAGIC nulls, bounds and checks), the feature catalogue, and a feature's lineage: the feature
# MAGIC services it reaches, and every node upstream of it down to the trips columns.
# MAGIC Parameters: `env`, `overrides` (`key=value;...`), `feature`.

# COMMAND ----------

dbutils.widgets.text("env", "databricks")
dbutils.widgets.text("overrides", "")
dbutils.widgets.text("feature", "percentile_dist_rolling_3h")

# COMMAND ----------

from trip_features.quality.report import column_profiles, latest_report
from trip_features.runtime.config import load_config

overrides = [o.strip() for o in dbutils.widgets.get("overrides").split(";") if o.strip()]
conf = load_config(dbutils.widgets.get("env"), overrides)
report = latest_report(conf.paths.features)
print(f"run {report['run_id']}: {report['status']}")
display(
    spark.createDataFrame(
        [(rule, count) for rule, count in sorted(report["quarantine_reasons"].items())],
        "rule string, trips long",
    )
)

# COMMAND ----------

display(
    spark.createDataFrame(
        column_profiles(report),
        "table string, column string, nulls long, min string, max string, checks_passed boolean",
    )
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## The feature catalogue and a feature's lineage

# COMMAND ----------

from trip_features.feature_lineage.graph import build_graph
from trip_features.feature_lineage.render import tree
from transforms.feature_catalogue import Catalogue

print(Catalogue.from_conf(conf.features).markdown())
feature = dbutils.widgets.get("feature")
graph = build_graph(conf)
print(tree(graph, feature, "downstream"))  # the tables, views and services it reaches
upstream = graph.upstream(feature) | {feature}
lineage = [(b, a) for a, b in sorted(graph.edges) if b in upstream]
display(spark.createDataFrame(lineage, "node string, depends_on string"))
