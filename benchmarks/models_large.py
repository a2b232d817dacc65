"""Benchmark: model training time and scoring throughput on the large profile.

Needs the large profile's feature snapshots in ``BENCH_LAKE_ROOT`` (default ``./lake-bench``):
``merchant_features`` and ``creator_features`` (100k merchants, 1M creators) and a
``merchant_training_set`` (``make bench-features`` leaves the lake so)::

    .venv/bin/python benchmarks/models_large.py          # or: make bench-models

Prints, against the Scale targets of the models issue:

1. training: the computation of ``growth train`` for one entity's value and potential models
   (the rolling-origin backtest over ``GROWTH_BACKTEST_FOLDS`` folds, then the final fit),
   on the driver with XGBoost's scikit-learn API and with ``xgboost.spark``, with the rows
   of each. Nothing is registered. A full backtest over every cutoff of a large training
   set takes hours on 2 cores, so by default the latest cutoffs that still give every fold
   a training cutoff are used (``BENCH_TRAIN_CUTOFFS=N`` or ``all`` to choose); the
   entities trained are ``BENCH_TRAIN_ENTITIES`` (default ``merchant``);
2. scoring one as-of date (the latest snapshot of both entities, or ``BENCH_AS_OF``) of all
   merchants and all creators with the champions: ``score_batch`` + ``tier_batch`` in one
   process over Arrow-sized batches (what each Spark Python worker does, but with the
   compiled trees on ``BENCH_SCORING_THREADS`` threads, default every core; a worker uses
   one), with where that time goes, and the whole ``growth score`` job's wall time (snapshot
   read, scoring on every core, cut points, publishing both tables through their gates).
   Target: >= 200,000 entities scored per second.

A lake without a champion for an entity gets one first (fitted on the driver on at most
``BENCH_CHAMPION_ROWS`` rows of the latest cutoff of its training set, which is built for
one cutoff if missing; registered as champion, not timed) so that scoring can run.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time

from bench_lake import use_bench_lake  # noqa: E402  (benchmarks/ is on sys.path)

use_bench_lake()

import dataclasses  # noqa: E402
import logging  # noqa: E402
from datetime import date  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from growth.features.registry import DAILY_TABLES  # noqa: E402
from growth.features.windows import AS_OF  # noqa: E402
from growth.jobs import (  # noqa: E402
    build_training_set,
    delta_io,
    model_registry,
    model_settings,
    score,
    spark_training,
    train_models,
)
from growth.jobs.build_features import features_table  # noqa: E402
from growth.jobs.config import Config, load_config  # noqa: E402
from growth.jobs.session import get_spark  # noqa: E402
from growth.models import backtest as bt  # noqa: E402
from growth.models import store  # noqa: E402
from growth.models.reasons import top_reasons  # noqa: E402
from growth.models.scoring import Champions, freeze_loaded, score_batch, tier_batch  # noqa: E402
from growth.models.tiering import TierPolicy, failed_gates, quantile_cuts  # noqa: E402

ENTITIES = ("merchant", "creator")
TARGET = 200_000  # entities scored per second
BATCH = 10_000  # spark.sql.execution.arrow.maxRecordsPerBatch: what mapInPandas hands a worker
THREADS = int(os.environ.get("BENCH_SCORING_THREADS", os.cpu_count() or 1))


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    cfg = load_config()
    spark = get_spark(cfg, "bench-models")
    as_of = _scoring_date(spark, cfg)
    print(f"\nlake {cfg.lake_root}; {os.cpu_count()} cores, driver memory {cfg.driver_memory}, "
          f"{cfg.model_trees} trees of depth {cfg.model_max_depth} per new model")

    train_entities = [e for e in os.environ.get("BENCH_TRAIN_ENTITIES", "merchant").split(",") if e]
    for number, entity in enumerate(train_entities, start=1):
        bench_training(spark, cfg, entity, as_of, f"1.{number}")
    for entity in ENTITIES:
        ensure_champions(spark, cfg, entity, as_of)
    bench_scoring(spark, cfg, as_of)
    spark.stop()


def _scoring_date(spark, cfg: Config) -> date:
    if os.environ.get("BENCH_AS_OF"):
        return date.fromisoformat(os.environ["BENCH_AS_OF"])
    dates = [
        {r[0] for r in spark.table(cfg.table(features_table(e))).select(AS_OF).distinct().collect()}
        for e in ENTITIES
    ]
    common = dates[0] & dates[1]
    if not common:
        sys.exit("merchant_features and creator_features share no snapshot date: build one "
                 "with 'growth features --as-of D' or set BENCH_AS_OF")
    return max(common)


def training_set(spark, cfg: Config, entity: str, as_of: date, cutoffs: int):
    """The entity's training set at its current Delta version and its label horizon; built
    over ``cutoffs`` monthly cutoffs first when the lake has none."""
    table = cfg.table(build_training_set.training_table(entity))
    if not delta_io.table_exists(spark, table):
        chosen = build_training_set.regular_cutoffs(as_of, cfg.label_horizon_days, 30, cutoffs)
        print(f"  {table} is missing: building it over {len(chosen)} cutoff(s) "
              f"{chosen[0]} .. {chosen[-1]} (not timed)", flush=True)
        build_training_set.run(spark, cfg, as_of, entity, chosen)
    version = delta_io.current_version(spark, table)
    data = spark.read.option("versionAsOf", version).table(table)
    horizon = data.agg(F.max("horizon_days")).first()[0]
    return data, int(horizon), f"{table}@{version}"


def _latest_cutoffs(cutoffs: list[date], horizon: int, folds: int) -> list[date]:
    wanted = os.environ.get("BENCH_TRAIN_CUTOFFS", "")
    if wanted == "all":
        return cutoffs
    if wanted:
        return cutoffs[-int(wanted):]
    for count in range(folds + 1, len(cutoffs) + 1):
        try:
            bt.folds(cutoffs[-count:], horizon, folds)
            return cutoffs[-count:]
        except bt.BacktestError:
            continue
    return cutoffs


def bench_training(spark, cfg: Config, entity: str, as_of: date, label: str) -> None:
    key = DAILY_TABLES[entity].key
    data, horizon, source = training_set(spark, cfg, entity, as_of, cfg.backtest_folds + 1)
    tcfg = dataclasses.replace(cfg, label_horizon_days=horizon)
    every = sorted(r[0] for r in data.select(AS_OF).distinct().collect())
    chosen = _latest_cutoffs(every, horizon, cfg.backtest_folds)
    subset = data.where(F.col(AS_OF).isin(chosen))
    rows = subset.count()
    features = model_settings.model_features(entity)
    params = model_settings.new_params(cfg)
    print(f"\n{label} training {entity} models: {source}, {len(chosen)} of {len(every)} "
          f"cutoff(s) ({chosen[0]} .. {chosen[-1]}), {rows:,} rows, horizon {horizon} days\n"
          f"  measured per kind: backtest over {cfg.backtest_folds} out-of-time folds + final "
          "fit, as growth train runs them (nothing registered)")
    print(f"  {'path':<34}{'kind':<11}{'rows':>11}{'backtest s':>12}{'final fit s':>13}"
          "  backtest metric", flush=True)
    totals = {}

    started = time.perf_counter()
    frame: pd.DataFrame | None = subset.toPandas().drop(columns=[key])
    collect = time.perf_counter() - started
    totals["driver"] = collect
    for kind in model_registry.KINDS:
        totals["driver"] += _train_kind(
            "driver (XGBoost scikit-learn API)", kind,
            lambda k=kind: train_models.LocalTrainer(tcfg, entity, k, frame), features, params)
    frame = None  # the driver's copy is not needed by the Spark path
    workers = spark_training.workers(spark)
    totals["spark"] = 0.0
    for kind in model_registry.KINDS:
        totals["spark"] += _train_kind(
            f"xgboost.spark ({workers} workers)", kind,
            lambda k=kind: spark_training.SparkTrainer(spark, tcfg, entity, k, subset, key),
            features, params)
    print(f"  driver path {totals['driver']:.1f} s (of which {collect:.1f} s collecting "
          f"{rows:,} rows to the driver); xgboost.spark path {totals['spark']:.1f} s "
          f"({totals['spark'] / totals['driver']:.2f}x)", flush=True)


def _train_kind(path: str, kind: str, make, features: list[str], params: dict) -> float:
    started = time.perf_counter()
    trainer = make()
    try:
        folds = trainer.backtest(features, params)
        backtested = time.perf_counter()
        trainer.fit(features, params)
        fitted = time.perf_counter()
    finally:
        trainer.close()
    primary = model_settings.PRIMARY_METRIC[kind]
    value = bt.mean_metrics(folds)[0][primary]
    print(f"  {path:<34}{kind:<11}{trainer.count:>11,}{backtested - started:>12.1f}"
          f"{fitted - backtested:>13.1f}  {primary} {value:.4f}", flush=True)
    return fitted - started


def ensure_champions(spark, cfg: Config, entity: str, as_of: date) -> None:
    """Register a champion for each kind of ``entity`` that has none (scoring needs one)."""
    missing = [k for k in model_registry.KINDS
               if model_registry.champion(spark, cfg, model_registry.model_name(entity, k)) is None]
    if not missing:
        return
    data, horizon, source = training_set(spark, cfg, entity, as_of, 1)
    latest = data.agg(F.max(AS_OF)).first()[0]
    limit = int(os.environ.get("BENCH_CHAMPION_ROWS", "200000"))
    rows = data.where(F.col(AS_OF) == F.lit(latest))
    total = rows.count()
    if total > limit:
        rows = rows.sample(fraction=min(1.0, 1.05 * limit / total), seed=7).limit(limit)
    frame = rows.toPandas().drop(columns=[DAILY_TABLES[entity].key])
    tcfg = dataclasses.replace(cfg, label_horizon_days=horizon)
    features = model_settings.model_features(entity)
    training = {"from": latest, "to": latest, "cutoffs": 1, "table": source.split("@")[0],
                "version": int(source.split("@")[1])}
    for kind in missing:
        trainer = train_models.LocalTrainer(tcfg, entity, kind, frame)
        model = trainer.fit(features, model_settings.new_params(cfg))
        name = model_registry.model_name(entity, kind)
        note = (f"{name}: fitted by benchmarks/models_large.py for the scoring benchmark on "
                f"{trainer.count:,} rows of cutoff {latest} (no backtest)")
        version = model_registry.register(
            spark, cfg, entity=entity, kind=kind, model=model, features=features,
            status="champion", trained_as_of=as_of, training={**training, "rows": trainer.count},
            primary_metric=model_settings.PRIMARY_METRIC[kind], primary_value=None,
            champion_primary_value=None, metrics={}, baseline_metrics={}, backtest_report=note,
            run_id="bench-models")
        print(f"  no champion for {name}: registered v{version}, {note.split(': ', 1)[1]} "
              "(not timed)", flush=True)


def bench_scoring(spark, cfg: Config, as_of: date) -> None:
    shares = model_settings.tier_shares(cfg)
    inputs, champions, described = {}, {}, {}
    for entity in ENTITIES:
        inputs[entity] = score.scoring_input(spark, cfg, entity, as_of).toPandas()
        loaded = {k: model_registry.load_champion(spark, cfg, model_registry.model_name(entity, k))
                  for k in model_registry.KINDS}
        champions[entity] = Champions(loaded["value"][0], loaded["value"][1],
                                      loaded["potential"][0], loaded["potential"][1])
        described[entity] = ", ".join(
            f"{row.model_name} v{row.version} ({model.booster_.num_boosted_rounds()} trees)"
            for model, _, row in loaded.values())
    freeze_loaded()  # as the score job's workers do once the champions are loaded
    total = sum(len(f) for f in inputs.values())
    print(f"\n2. scoring as of {as_of}: "
          + " + ".join(f"{len(inputs[e]):,} {e}s" for e in ENTITIES) + f" = {total:,} entities")
    print(f"  2a. score_batch + tier_batch in one Python process, batches of {BATCH:,} rows "
          f"(the compiled trees on {THREADS} thread(s))")
    pure = 0.0
    for entity in ENTITIES:
        seconds, parts = _pure_scoring(cfg, entity, inputs[entity], champions[entity], shares)
        pure += seconds
        n = len(inputs[entity])
        print(f"  {entity:<10}{n:>11,} rows {seconds:8.1f} s  {n / seconds:>10,.0f} entities/s"
              f"   [{described[entity]}]")
        print("            of which " + ", ".join(f"{k} {v:.1f} s" for k, v in parts.items()),
              flush=True)
    print(f"  both      {total:>11,} rows {pure:8.1f} s  {total / pure:>10,.0f} entities/s "
          f"(target >= {TARGET:,}; {spark_training.workers(spark)} such processes run in the "
          "job)")
    workers = spark_training.workers(spark)
    print(f"  2b. the same in {workers} worker processes of 1 thread each (what the job's "
          "Python workers do: each scores its share of the batches, the driver cuts, each "
          "tiers its own)")
    parallel = 0.0
    for entity in ENTITIES:
        seconds = _parallel_scoring(cfg, entity, inputs[entity], champions[entity], shares,
                                    workers)
        parallel += seconds
        n = len(inputs[entity])
        print(f"  {entity:<10}{n:>11,} rows {seconds:8.1f} s  {n / seconds:>10,.0f} entities/s",
              flush=True)
    print(f"  both      {total:>11,} rows {parallel:8.1f} s  {total / parallel:>10,.0f} "
          f"entities/s (target >= {TARGET:,})")
    del inputs

    print("  2c. the growth score job (wall time: read, score on every core, cut points, "
          "gates, publish)")
    wall, scored = 0.0, 0
    for entity in ENTITIES:
        started = time.perf_counter()
        counts = score.run(spark, cfg, as_of, entity)
        seconds = time.perf_counter() - started
        n = counts[score.tiers_table(entity)]
        wall, scored = wall + seconds, scored + n
        print(f"  {entity:<10}{n:>11,} rows {seconds:8.1f} s  {n / seconds:>10,.0f} entities/s"
              f"   ({counts[score.POTENTIAL_TABLE]:,} potential rows)", flush=True)
    print(f"  both      {scored:>11,} rows {wall:8.1f} s  {scored / wall:>10,.0f} entities/s "
          f"(target >= {TARGET:,})")
    print(f"\nscoring throughput: {total / pure:,.0f} entities/s in score_batch + tier_batch "
          f"(one process), {total / parallel:,.0f} entities/s in {workers} worker processes, "
          f"{scored / wall:,.0f} entities/s for the growth score job; target >= {TARGET:,}")


def _policy(cfg: Config, scores: np.ndarray, shares: dict[str, float]) -> TierPolicy:
    """The tier policy the score job would take from these scores (quantile cut points)."""
    return TierPolicy(cuts=quantile_cuts(scores, shares), hysteresis=cfg.tier_hysteresis,
                      new_days=cfg.tier_new_days, cap=cfg.tier_ineligible_cap)


def _score_share(conn, cfg: Config, entity: str, batches: list[pd.DataFrame],
                 texts: dict[str, dict[str, str]]) -> None:
    """A worker process: rebuild the champions from their texts (as the job's workers do
    from the broadcast), score its batches, send the scores, receive the tier policy, tier
    its own scored batches, report done (the frames never cross the pipe, as in the job
    each Python worker keeps its Arrow batches)."""
    value, value_features = store.from_texts(texts["value"])
    potential, potential_features = store.from_texts(texts["potential"])
    champions = Champions(value, value_features, potential, potential_features)
    key = DAILY_TABLES[entity].key
    units, gates = model_settings.units(entity), model_settings.gates(cfg, entity)
    score_batch(batches[0].iloc[:100], key, champions, units, gates, keep=score.CARRIED)
    freeze_loaded()
    conn.send("ready")
    conn.recv()
    scored = [score_batch(b, key, champions, units, gates, keep=score.CARRIED) for b in batches]
    conn.send(np.concatenate([s["score"].to_numpy() for s in scored]))
    policy = conn.recv()
    for s in scored:
        tier_batch(s, policy)
    conn.send(sum(len(s) for s in scored))


def _parallel_scoring(cfg: Config, entity: str, frame: pd.DataFrame, champions: Champions,
                      shares: dict[str, float], workers: int) -> float:
    """Seconds for ``workers`` processes (1 compiled-tree thread each) to score and
    tier ``frame``'s batches, dealt round-robin, with the cut points taken in between."""
    batches = [frame.iloc[i:i + BATCH] for i in range(0, len(frame), BATCH)]
    texts = {"value": store.to_texts(champions.value, list(champions.value_features)),
             "potential": store.to_texts(champions.potential,
                                         list(champions.potential_features))}
    workers = min(workers, len(batches))  # a worker without a batch would idle
    # Spawned, not forked: a fork of this process (a JVM gateway's threads, a numba thread
    # pool) can inherit a held lock and hang.
    context = multiprocessing.get_context("spawn")
    pipes, processes = [], []
    for w in range(workers):
        here, there = context.Pipe()
        process = context.Process(target=_score_share, args=(
            there, cfg, entity, batches[w::workers], texts))
        process.start()
        pipes.append(here)
        processes.append(process)
    for pipe in pipes:  # started and warmed up (kernels loaded): not timed
        pipe.recv()
    started = time.perf_counter()
    for pipe in pipes:
        pipe.send("go")
    scores = np.concatenate([pipe.recv() for pipe in pipes])
    policy = _policy(cfg, scores, shares)
    for pipe in pipes:
        pipe.send(policy)
    tiered = sum(pipe.recv() for pipe in pipes)
    seconds = time.perf_counter() - started
    for process in processes:
        process.join()
    if tiered != len(frame):
        raise RuntimeError(f"the workers tiered {tiered:,} of {len(frame):,} rows")
    return seconds


def _pure_scoring(cfg: Config, entity: str, frame: pd.DataFrame, champions: Champions,
                  shares: dict[str, float]) -> tuple[float, dict[str, float]]:
    """Seconds of score_batch over every batch, the cut points and tier_batch over every
    batch; then, in a second pass, how that time splits between its parts (``trees``: the
    one compiled pass per model giving predictions, contributions and each row's top
    features; ``reasons``: rendering them; ``gates``; ``tiers``: tier_batch)."""
    key = DAILY_TABLES[entity].key
    units, gates = model_settings.units(entity), model_settings.gates(cfg, entity)
    batches = [frame.iloc[i:i + BATCH] for i in range(0, len(frame), BATCH)]
    # The first batch compiles the trees' kernels (or loads them from numba's cache).
    score_batch(batches[0].iloc[:100], key, champions, units, gates, keep=score.CARRIED,
                threads=THREADS)
    started = time.perf_counter()
    scored = [score_batch(b, key, champions, units, gates, keep=score.CARRIED, threads=THREADS)
              for b in batches]
    policy = _policy(cfg, np.concatenate([s["score"].to_numpy() for s in scored]), shares)
    for s in scored:
        tier_batch(s, policy)
    seconds = time.perf_counter() - started

    parts = dict.fromkeys(("trees", "reasons", "gates", "tiers"), 0.0)
    for batch, s in zip(batches, scored, strict=True):
        for model, names in ((champions.value, champions.value_features),
                             (champions.potential, champions.potential_features)):
            X = batch[list(names)].to_numpy(dtype=np.float32, na_value=np.nan)
            t0 = time.perf_counter()
            explained = model.explain(X, 3, THREADS)
            t1 = time.perf_counter()
            top_reasons(explained.contributions, batch, names, units, top=explained.top)
            parts["trees"] += t1 - t0
            parts["reasons"] += time.perf_counter() - t1
        t0 = time.perf_counter()
        failed_gates(batch, gates)
        t1 = time.perf_counter()
        tier_batch(s, policy)
        parts["gates"] += t1 - t0
        parts["tiers"] += time.perf_counter() - t1
    return seconds, parts


if __name__ == "__main__":
    main()
