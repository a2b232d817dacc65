"""Benchmark: the data-quality gates' overhead per job on the large profile.

Needs the large profile ingested into ``BENCH_LAKE_ROOT`` (default ``./lake-bench``), with
the daily tables built (``make bench-features`` leaves the lake so)::

    .venv/bin/python benchmarks/dq_overhead_large.py

It replays the last day as the daily DAG would run it:

1. (setup, not measured) the rows the last batch brought to the activity sources are
   deleted from silver, the month of orders before it is ingested again to restore the
   versions of the lines that batch had moved on, and the daily tables are brought to that
   state, so the replayed batch has real changes to aggregate, and the snapshots of the
   day before are published as that day's run would have left them;
   then that batch is ingested again, source by source, as the DAG runs it (no --from;
   each: a batch gate and a silver gate);
2. the incremental daily aggregates (the days that batch touched; a gate per table);
3. the day's feature snapshots (a gate per table, with the PSI against the previous one);
4. the day's labels;
5. a full rebuild of the daily tables, the largest candidate there is.

For every run it prints the job's time, the time its gates took (``run_log.dq_seconds``)
and the overhead: gate time / the job's own time without the gates. Target: <= 15%.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

from bench_lake import use_bench_lake  # noqa: E402  (benchmarks/ is on sys.path)

use_bench_lake()

import logging  # noqa: E402

from pyspark.sql import functions as F  # noqa: E402

from growth.jobs import build_daily, build_features, build_labels, ingest  # noqa: E402
from growth.jobs.config import load_config  # noqa: E402
from growth.jobs.session import get_spark  # noqa: E402
from growth.layout import RUN_LOG_TABLE, silver_table  # noqa: E402

ACTIVITY = ("orders", "reviews", "traffic_daily", "creator_daily_stats")
TARGET = 0.15


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    # Where each gate's time goes: suite preparation, then the validation itself.
    logging.getLogger("growth.jobs.quality").setLevel(logging.INFO)
    cfg = load_config()
    spark = get_spark(cfg, "bench-dq-overhead")
    end = cfg.sim_end_date
    log_table = cfg.table(RUN_LOG_TABLE)
    print(f"\nlake {cfg.lake_root}; {os.cpu_count()} cores, driver memory {cfg.driver_memory}")
    worst = 0.0

    def newest_entry():
        return spark.table(log_table).agg(F.max("finished_at")).first()[0]

    for source in ACTIVITY:
        spark.sql(f"DELETE FROM {cfg.table(silver_table(source))} WHERE _batch_date = DATE'{end}'")
    day_before = end - timedelta(days=1)
    started = time.perf_counter()
    ingest.run(spark, cfg, day_before, "orders", batch_from=end - timedelta(days=30))
    build_daily.run(spark, cfg, day_before)
    # Yesterday's snapshots, as yesterday's run left them (with their stored profiles).
    build_features.run(spark, cfg, day_before)
    print(f"(setup: silver, the daily tables and the snapshots as of {day_before}, "
          f"{time.perf_counter() - started:.0f} s)", flush=True)
    since = newest_entry()
    print(f"\n{'run':<44}{'job s':>9}{'gates s':>9}{'overhead':>10}  rows")

    def measured(label: str, action) -> None:
        nonlocal worst, since
        started = time.perf_counter()
        action()
        wall = time.perf_counter() - started
        # The runs this action logged (a daily job logs one run for both of its tables).
        rows = (spark.table(log_table).where(F.col("finished_at") > F.lit(since))
                .select("duration_s", "dq_seconds", "rows_in", "rows_inserted").collect())
        since = newest_entry()
        gates = sum(r.dq_seconds or 0.0 for r in rows)
        job = sum(r.duration_s for r in rows)
        own = job - gates
        overhead = gates / own if own > 0 else float("nan")
        worst = max(worst, overhead)
        count = sum((r.rows_in or r.rows_inserted or 0) for r in rows)
        print(f"{label:<44}{job:9.1f}{gates:9.1f}{overhead:10.1%}  {count:,} "
              f"(wall {wall:.1f} s)", flush=True)

    # As the daily DAG runs it: no --from, the run log gives the batch window (the batch
    # of `end`, already logged as taken before the reset) and the volume baseline.
    for source in ACTIVITY:
        measured(f"ingest {source} {end}", lambda s=source: ingest.run(spark, cfg, end, s))
    measured("daily aggregates, incremental", lambda: build_daily.run(spark, cfg, end))
    measured("feature snapshots", lambda: build_features.run(spark, cfg, end))
    measured("labels", lambda: build_labels.run(spark, cfg, end))
    measured("daily aggregates, full rebuild", lambda: build_daily.run(spark, cfg, end, full=True))
    print(f"\nworst overhead {worst:.1%} (target <= {TARGET:.0%})")


if __name__ == "__main__":
    main()
