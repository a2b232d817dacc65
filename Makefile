# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv when it
# is missing and (re)install the pinned dependencies whenever pyproject.toml changes.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
INSTALLED := $(VENV)/.installed

.PHONY: install demo test test-demo test-cluster check-backfill lint docs bench-simulate bench-features bench-dq bench-models bench-daily bench-uplift-choice clean

$(INSTALLED): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(INSTALLED)

demo: $(INSTALLED)
	bash scripts/demo.sh

# Two pytest workers, one test file each at a time (a module's fixtures stay in one process,
# each worker has its own SparkSession and lake): the end-to-end DAG run, mostly spark-submit
# start-up, overlaps the rest of the suite instead of adding to it. xdist's own file order
# is kept: starting tests/e2e first (--no-loadscope-reorder) measured slower twice (34 min
# against 30-31), since it then runs beside the feature store's fixture, the other heaviest.
test: $(INSTALLED)
	source scripts/env.sh && $(VENV)/bin/pytest -n 2 --dist loadfile

# The incremental = full-recompute test of the feature store on the demo profile (~8 min; CI runs it after make test).
test-demo: $(INSTALLED)
	source scripts/env.sh && GROWTH_TEST_PROFILE=demo $(VENV)/bin/pytest tests/jobs/test_feature_store_jobs.py

# The daily jobs on a Spark standalone cluster (2 workers on loopback) equal a local run (~15 min; CI runs it after test-demo).
test-cluster: $(INSTALLED)
	source scripts/env.sh && GROWTH_TEST_CLUSTER=1 $(VENV)/bin/pytest tests/cluster

# Airflow's backfill of growth_daily through a real scheduler, twice, on the demo lake: every
# table unchanged and nothing run twice (~15 min per day; run `make demo` first; the demo's
# 30-day label horizon, as scripts/demo.sh sets it).
BACKFILL_FROM ?= 2026-10-31
BACKFILL_TO ?= 2026-10-31
check-backfill: $(INSTALLED)
	source scripts/env.sh && GROWTH_LABEL_HORIZON_DAYS=$${GROWTH_LABEL_HORIZON_DAYS:-30} \
	    $(VENV)/bin/python scripts/check_backfill.py \
	    --from-date $(BACKFILL_FROM) --to-date $(BACKFILL_TO)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .

docs: $(INSTALLED)
	$(VENV)/bin/growth docs

bench-simulate: $(INSTALLED)
	source scripts/env.sh && $(VENV)/bin/python benchmarks/simulate_large.py

bench-features: $(INSTALLED)
	source scripts/env.sh && $(VENV)/bin/python benchmarks/feature_store_large.py

# Data-quality gate overhead per job on the large profile (run after bench-features).
bench-dq: $(INSTALLED)
	source scripts/env.sh && $(VENV)/bin/python benchmarks/dq_overhead_large.py

# Training time (driver vs xgboost.spark) and scoring throughput on the large profile (after bench-features).
bench-models: $(INSTALLED)
	source scripts/env.sh && $(VENV)/bin/python benchmarks/models_large.py

# One incremental growth_daily run through Airflow on the large profile, per task (after
# bench-simulate; prepares the lake up to the day before by itself).
bench-daily: $(INSTALLED)
	source scripts/env.sh && $(VENV)/bin/python benchmarks/daily_run_large.py

# The outreach effect model's choice, validated and then reused from its memo, on synthetic
# frames of the large profile's enrolment shapes (no lake needed).
bench-uplift-choice: $(INSTALLED)
	source scripts/env.sh && $(VENV)/bin/python benchmarks/uplift_choice.py

clean:
	rm -rf lake airflow_home
