#!/usr/bin/env bash
# make demo: generate the demo marketplace, run the growth_daily DAG through Airflow for its
# last day, and show what was published and how to query it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

logs="$GROWTH_LAKE_ROOT/logs"
mkdir -p "$logs"

# step NAME CMD...: the full output goes to $logs/NAME.log; the screen shows the platform's own
# progress lines and tables. On failure, the end of the log and its path are printed.
step() {
  local log="$logs/$1.log"
  shift
  set +e
  "$@" 2>&1 | tee "$log" \
    | grep --line-buffered -E ' (INFO|WARNING|ERROR) growth|^[+|]|^problem:|^data-quality|^failed checks' \
    | sed -u -E 's/^.*\[[a-z ]+\] ([0-9:]{8} )/\1/; s/ \[airflow\.task\.hooks.*$//'
  local rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" -ne 0 ]; then
    tail -40 "$log"
    echo "demo step failed (exit $rc); full log: $log"
    exit "$rc"
  fi
}

as_of="$(growth config | sed -n 's/^GROWTH_SIM_END_DATE=//p')"
seed="$(growth config | sed -n 's/^GROWTH_SIM_SEED=//p')"
profile="${DEMO_PROFILE:-demo}"
marker="$GROWTH_LAKE_ROOT/raw/.simulated-$profile-$seed-$as_of"

echo "== 1/3 simulated marketplace ($profile profile, last day $as_of) in $GROWTH_LAKE_ROOT/raw"
if [ -f "$marker" ]; then
  echo "   already generated (delete $marker to regenerate)"
else
  step simulate growth simulate --profile "$profile"
  touch "$marker"
fi

echo "== 2/3 growth_daily through Airflow (home: $AIRFLOW_HOME, SQLite)"
step airflow-db-migrate airflow db migrate
# Each demo run is a fresh DAG run for the same day: ingest is idempotent, so reruns are safe.
AIRFLOW__LOGGING__LOGGING_LEVEL=INFO step growth-daily airflow dags test growth_daily "$as_of"

echo "== 3/3 what was published for $as_of"
step runs growth runs --as-of "$as_of" --check
step dq growth dq --as-of "$as_of" --check
step quarantine growth sql \
  "SELECT source, reason_code, count(*) AS rows FROM quarantine GROUP BY 1, 2 ORDER BY 1, 2"
step features growth sql --limit 10 \
  "SELECT merchant_id, round(gmv_sum_30d, 2) AS gmv_sum_30d,
          round(gmv_growth_30d, 3) AS gmv_growth_30d, buyers_distinct_90d,
          round(rating_mean_90d, 2) AS rating_mean_90d,
          round(late_delivery_rate_90d, 3) AS late_delivery_rate_90d
   FROM merchant_features WHERE as_of_date = DATE'$as_of' ORDER BY gmv_sum_30d DESC"
growth spark-defaults > "$GROWTH_LAKE_ROOT/spark-defaults.conf"
cat <<TXT

Query the tables (database 'growth') with any of:
  source scripts/env.sh    # the venv on PATH, the lake, Airflow's home
  growth sql "SHOW TABLES IN growth"
  growth sql "SELECT * FROM quarantine WHERE source = 'orders' LIMIT 5"
  growth dq --as-of $as_of     # the data-quality gates' checks per table, and every failure
  growth sql "SELECT channel, round(sum(amount)) AS gmv FROM silver_orders WHERE status <> 'cancelled' GROUP BY 1"
  growth sql "SELECT as_of_date, count(*) AS creators, round(avg(followers_latest)) AS followers FROM creator_features GROUP BY 1"
  growth training-set --entity merchant --as-of $as_of --every 7 --count 4   # snapshots + labels
  spark-sql --properties-file $GROWTH_LAKE_ROOT/spark-defaults.conf -e "SHOW TABLES IN growth"
Full logs of each step: $logs
TXT
