#!/usr/bin/env bash
# make demo: generate the demo marketplace, run the growth_daily DAG through Airflow for its
# last day (and growth_training when no champion model exists yet, then the day's scoring and
# outreach tasks), and show the tiers, the top of the outreach lists and how to query them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# The demo's 180 days of history are too short for the default 90-day label horizon to give
# the training backtest its out-of-time folds; 30 days gives it seven cutoffs.
export GROWTH_LABEL_HORIZON_DAYS="${GROWTH_LABEL_HORIZON_DAYS:-30}"
started=$SECONDS

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

echo "== 1/4 simulated marketplace ($profile profile, last day $as_of) in $GROWTH_LAKE_ROOT/raw"
if [ -f "$marker" ]; then
  echo "   already generated (delete $marker to regenerate)"
else
  step simulate growth simulate --profile "$profile"
  touch "$marker"
fi

echo "== 2/4 growth_daily through Airflow (home: $AIRFLOW_HOME, SQLite)"
step airflow-db-migrate airflow db migrate
# Each demo run is a fresh DAG run for the same day: every job is idempotent, so reruns are safe.
AIRFLOW__LOGGING__LOGGING_LEVEL=INFO step growth-daily airflow dags test growth_daily "$as_of"

echo "== 3/4 models"
if growth models list 2>/dev/null | grep -q ' champion '; then
  echo "   champion models exist: growth_daily scored and listed with them"
else
  echo "   no champion yet: growth_training through Airflow, then the day's scoring tasks"
  AIRFLOW__LOGGING__LOGGING_LEVEL=INFO step growth-training \
    airflow dags test growth_training "$as_of"
  for task in score_merchant score_creator lookalike_merchant lookalike_creator \
              outreach_merchant outreach_creator; do
    AIRFLOW__LOGGING__LOGGING_LEVEL=INFO step "$task" airflow tasks test growth_daily "$task" "$as_of"
  done
fi

echo "== 4/4 what was published for $as_of"
step status growth status --runs 5 --check
step tiers growth sql \
  "SELECT entity, tier, count(*) AS entities FROM (
     SELECT 'merchant' AS entity, tier FROM merchant_tiers WHERE as_of_date = DATE'$as_of'
     UNION ALL
     SELECT 'creator', tier FROM creator_tiers WHERE as_of_date = DATE'$as_of')
   GROUP BY 1, 2 ORDER BY 1 DESC, array_position(array('S', 'A', 'B', 'C', 'D', 'new'), tier)"
step outreach growth sql --limit 10 --truncate 60 \
  "SELECT entity_type, rank, entity_id, manager_id, tier, ranking_basis AS basis,
          round(expected_effect, 3) AS effect, round(expected_value) AS value,
          element_at(reasons, 1) AS first_reason
   FROM outreach_lists WHERE as_of_date = DATE'$as_of' AND NOT holdout AND rank <= 5
   ORDER BY entity_type DESC, rank"
growth spark-defaults > "$GROWTH_LAKE_ROOT/spark-defaults.conf"
cat <<TXT

Demo finished in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s.
Query the tables (database 'growth') with any of:
  source scripts/env.sh    # the venv on PATH, the lake, Airflow's home
  growth sql "SHOW TABLES IN growth"
  growth sql "SELECT tier, count(*) FROM merchant_tiers WHERE as_of_date = DATE'$as_of' GROUP BY tier"
  growth sql "SELECT * FROM outreach_lists WHERE as_of_date = DATE'$as_of' ORDER BY entity_type, rank LIMIT 20"
  growth export outreach --as-of $as_of      # one CSV per team for the CRM, in $GROWTH_LAKE_ROOT/exports
  growth status                # the newest runs and each table's freshness
  growth sql "SELECT * FROM quarantine WHERE source = 'orders' LIMIT 5"
  growth dq --as-of $as_of     # the data-quality gates' checks per table, and every failure
  growth sql "SELECT channel, round(sum(amount)) AS gmv FROM silver_orders WHERE status <> 'cancelled' GROUP BY 1"
  growth sql "SELECT as_of_date, count(*) AS creators, round(avg(followers_latest)) AS followers FROM creator_features GROUP BY 1"
  growth training-set --entity merchant --as-of $as_of --every 7 --count 4   # snapshots + labels
  spark-sql --properties-file $GROWTH_LAKE_ROOT/spark-defaults.conf -e "SHOW TABLES IN growth"
Full logs of each step: $logs
TXT
