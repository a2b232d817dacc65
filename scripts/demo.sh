#!/usr/bin/env bash
# make demo: generate the demo marketplace, run the growth_daily DAG through Airflow for its
# last day, and show what was published and how to query it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow_env.sh

as_of="$(growth config | sed -n 's/^GROWTH_SIM_END_DATE=//p')"
profile="${GROWTH_DEMO_PROFILE:-demo}"
marker="$GROWTH_LAKE_ROOT/raw/.simulated-$profile-$(growth config | sed -n 's/^GROWTH_SIM_SEED=//p')-$as_of"

echo "== 1/3 simulated marketplace ($profile profile, last day $as_of) in $GROWTH_LAKE_ROOT/raw"
if [ -f "$marker" ]; then
  echo "   already generated (delete $marker to regenerate)"
else
  growth simulate --profile "$profile"
  touch "$marker"
fi

echo "== 2/3 growth_daily through Airflow (home: $AIRFLOW_HOME, SQLite)"
airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
# A previous demo run for the same day is cleared first, so reruns are idempotent.
airflow dags delete --yes growth_daily > /dev/null 2>&1 || true
airflow dags reserialize > /dev/null 2>&1 || true
airflow dags test growth_daily "$as_of" > "$AIRFLOW_HOME/dags-test.log" 2>&1 \
  || { tail -50 "$AIRFLOW_HOME/dags-test.log"; echo "growth_daily failed; full log: $AIRFLOW_HOME/dags-test.log"; exit 1; }

echo "== 3/3 what was published"
growth runs --as-of "$as_of" --check
growth sql "SELECT source, reason_code, count(*) AS rows FROM quarantine GROUP BY 1, 2 ORDER BY 1, 2"
growth spark-defaults > "$GROWTH_LAKE_ROOT/spark-defaults.conf"
cat <<TXT

Query the tables (database 'growth') with any of:
  .venv/bin/growth sql "SHOW TABLES IN growth"
  .venv/bin/growth sql "SELECT reason_code, source, count(*) FROM quarantine GROUP BY 1, 2"
  .venv/bin/growth sql "SELECT channel, round(sum(amount)) gmv FROM silver_orders WHERE status <> 'cancelled' GROUP BY 1"
  .venv/bin/spark-sql --properties-file $GROWTH_LAKE_ROOT/spark-defaults.conf -e "SHOW TABLES IN growth"
TXT
