# The project environment, sourced by the Makefile, the demo and users: the venv on PATH (so
# spark-sql / spark-submit / airflow find it), the lake, the project's own Airflow home (SQLite), its
# DAGs folder, the Spark connection (local master unless GROWTH_MASTER says otherwise).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$root/airflow_home}"
export AIRFLOW__CORE__DAGS_FOLDER="$root/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__UNIT_TEST_MODE=False
# Interactive runs (demo, tests) retry a failed task after seconds, not five minutes.
export AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY="${AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY:-5}"
export AIRFLOW__LOGGING__LOGGING_LEVEL="${AIRFLOW__LOGGING__LOGGING_LEVEL:-WARNING}"
export AIRFLOW_CONN_GROWTH_SPARK="${AIRFLOW_CONN_GROWTH_SPARK:-{\"conn_type\": \"spark\", \"host\": \"${GROWTH_MASTER:-local[*]}\"}}"
export GROWTH_LAKE_ROOT="${GROWTH_LAKE_ROOT:-$root/lake}"
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$root/.venv/bin/python}"
export PATH="$root/.venv/bin:$PATH"
