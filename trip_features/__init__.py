"""The platform's support packages, under one name so that installing the wheel adds no generic
top-level names (`runtime`, `storage`, `quality`...) beside other libraries: settings and the Spark
session (`runtime`), reading and publishing tables (`storage`), the Spark offline store
(`offline_store`), quality gates and reports (`quality`), lineage (`feature_lineage`), the feature
run (`feature_runs`) and the online server (`feature_serving`). The design card's folders (jobs,
transforms, definitions, feature_repo, conf) stay at the top."""
