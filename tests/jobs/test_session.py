"""The session factory: settings, and a plain error when the Delta jars cannot be had."""

from __future__ import annotations

import os
import subprocess
import sys

from growth.jobs.session import spark_conf


def test_session_settings(spark, cfg):
    conf = spark.sparkContext.getConf()
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.adaptive.enabled") == "true"
    assert conf.get("spark.sql.catalogImplementation") == "hive"
    assert str(cfg.metastore_dir) in conf.get("spark.hadoop.javax.jdo.option.ConnectionURL")
    assert [r.namespace for r in spark.sql("SHOW DATABASES").collect()].count("growth") == 1


def test_local_jars_replace_package_resolution(cfg):
    import dataclasses

    conf = spark_conf(dataclasses.replace(cfg, spark_jars="/opt/a.jar,/opt/b.jar"))
    assert conf["spark.jars"] == "/opt/a.jar,/opt/b.jar"
    assert "spark.jars.packages" not in conf


def test_unresolvable_delta_jars_give_an_error_that_says_how_to_fix_it(tmp_path):
    code = (
        "from growth.jobs.config import load_config\n"
        "from growth.jobs.session import get_spark, SparkStartError\n"
        "try:\n"
        "    get_spark(load_config())\n"
        "except SparkStartError as e:\n"
        "    print('CAUGHT', e)\n"
    )
    env = {
        **os.environ,
        "GROWTH_LAKE_ROOT": str(tmp_path),
        "GROWTH_DELTA_PACKAGES": "io.delta:delta-spark_4.2_2.13:0.0.0-missing",
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert "CAUGHT" in done.stdout, done.stderr[-2000:]
    message = done.stdout
    assert "io.delta:delta-spark_4.2_2.13:0.0.0-missing" in message
    assert "mvn dependency:get" in message and "GROWTH_SPARK_JARS" in message


def test_logs_compact_their_small_files_and_keep_every_row(spark, cfg):
    """Each append adds a file; a log must not grow into thousands of them, and compaction
    must neither lose nor duplicate a record. A log created without the property (by an
    older release) gets it on its next append."""
    from delta.tables import DeltaTable

    from growth.jobs import delta_io

    name = cfg.table("log_compaction_probe")
    spark.sql(f"CREATE TABLE {name} (run INT) USING delta")
    for run in range(25):
        delta_io.append(spark, spark.createDataFrame([(run,)], "run INT"), name)
    detail = DeltaTable.forName(spark, name).detail().first()
    assert detail["properties"]["delta.autoOptimize.autoCompact"] == "true"
    assert detail["numFiles"] < 10
    assert sorted(r.run for r in spark.table(name).collect()) == list(range(25))
    spark.sql(f"DROP TABLE {name}")


def test_a_merge_reports_its_own_inserts_and_updates(spark, cfg):
    """The counts are the merge's own: zero for an empty source (Delta commits nothing),
    a matched row counts only where the update condition holds, and a merge that follows
    another writer's append reports its own (empty) change, not the append's rows."""
    from growth.jobs import delta_io

    name = cfg.table("merge_counts_probe")
    schema = "k INT, v INT"

    def merge(rows):
        return delta_io.merge_latest(
            spark, spark.createDataFrame(rows, schema), name, ["k"], "s.v > t.v")

    assert merge([(1, 10), (2, 20)]) == {"inserted": 2, "updated": 0}
    version = delta_io.current_version(spark, name)
    assert merge([]) == {"inserted": 0, "updated": 0}
    assert delta_io.current_version(spark, name) == version
    assert merge([(1, 11), (2, 5), (3, 30)]) == {"inserted": 1, "updated": 1}
    spark.createDataFrame([(9, 90)], schema).writeTo(name).append()  # another writer's commit
    assert merge([(1, 11), (2, 20)]) == {"inserted": 0, "updated": 0}
    assert sorted(tuple(r) for r in spark.table(name).collect()) == [
        (1, 11), (2, 20), (3, 30), (9, 90)]
    spark.sql(f"DROP TABLE {name}")
