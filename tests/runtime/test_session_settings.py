"""The session the jobs build carries conf's JVM flags and input split size."""


def _collectors(jvm) -> set[str]:
    beans = jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    return {beans.get(i).getName() for i in range(beans.size())}


def test_the_driver_jvm_runs_the_collector_conf_names(spark, conf):
    assert conf["spark"]["java_options"] == "-XX:+UseParallelGC"
    # The parallel collector's beans; G1, Java 17's default, would be "G1 Young Generation".
    assert _collectors(spark.sparkContext._jvm) == {"PS Scavenge", "PS MarkSweep"}
    executor_options = spark.sparkContext.getConf().get("spark.executor.extraJavaOptions")
    # Spark adds its own module flags before ours.
    assert executor_options.split()[-2:] == ["-Duser.timezone=UTC", "-XX:+UseParallelGC"]


def test_input_splits_are_conf_sized(spark, conf):
    assert conf["spark"]["conf"]["spark.sql.files.maxPartitionBytes"] == "64m"
    assert spark.conf.get("spark.sql.files.maxPartitionBytes") == "64m"


def test_start_up_work_runs_beside_the_session_and_its_error_reaches_the_caller(spark, conf):
    import threading

    import pytest

    from runtime.session import get_spark_while

    session, worker = get_spark_while(conf, lambda: threading.current_thread().name)
    assert session is spark and worker != threading.current_thread().name

    def unknown():
        raise LookupError("unknown feature service 'nope'")

    with pytest.raises(LookupError, match="nope"):
        get_spark_while(conf, unknown)
