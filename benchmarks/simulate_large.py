"""Benchmark: generate the large profile (100k merchants, 1M creators, 365 days).

Prints the generation time and the row count of every source. Writes into its own lake,
``BENCH_LAKE_ROOT`` (default ``./lake-bench``), never the demo lake.

    make bench-simulate          # or: .venv/bin/python benchmarks/simulate_large.py
"""

from __future__ import annotations

import os
import time

from bench_lake import use_bench_lake  # noqa: E402  (benchmarks/ is on sys.path)

use_bench_lake("16g", None)

import logging  # noqa: E402

from growth.jobs import simulate  # noqa: E402
from growth.jobs.config import load_config  # noqa: E402
from growth.jobs.session import get_spark  # noqa: E402


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    cfg = load_config()
    spark = get_spark(cfg, "bench-simulate-large")
    started = time.perf_counter()
    counts = simulate.run(spark, cfg, "large", cfg.sim_seed, cfg.sim_end_date)
    elapsed = time.perf_counter() - started
    print(f"\nlarge profile generated in {elapsed:.0f} s ({elapsed / 60:.1f} min) "
          f"on {os.cpu_count()} cores, driver memory {cfg.driver_memory}, into {cfg.raw_root}")
    print(f"{'table':<22}{'rows':>14}")
    for table, rows in counts.items():
        print(f"{table:<22}{rows:>14,}")
    lines = (
        spark.read.parquet(str(cfg.raw_root / "orders"))
        .where("status = 'placed' AND order_id IS NOT NULL")
        .select("order_id", "line_id")
        .distinct()
        .count()
    )
    print(f"\norder rows landed (placed + final versions + junk copies): {counts['orders']:,}")
    print(f"distinct order lines: {lines:,}")


if __name__ == "__main__":
    main()
