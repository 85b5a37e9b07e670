"""Entry points: each job runs as `python -m jobs.<job>`, `spark-submit jobs/<job>.py` or `run(spark, conf)`."""
