#!/usr/bin/env bash
# Submits a job to a Spark cluster with spark-submit, in client mode, shipping what executors need.
#
#   scripts/submit.sh --master spark://127.0.0.1:7077 [--workers-python PATH | --packed-env] \
#       [--spark-conf KEY=VALUE ...] JOB [JOB ARGS...]
#   JOB: jobs.pipeline, jobs.compute_features, jobs.training_set, ... (any module of jobs/)
#
# The project's code always travels as its wheel (as a .zip) in --py-files (pure Python: executors
# import it from there, never from this checkout). Its native dependencies (numpy, numba, pyarrow, and feast
# for on-demand views) must be on the executors, one of two ways:
#   --workers-python PATH  every worker already has an environment with them (e.g. the project's
#                          wheel installed with `pip install trip-features`): PATH is its python
#                          on the workers (default: this project's .venv/bin/python, right for a
#                          cluster on this machine or on nodes built from the same image);
#   --packed-env           build build/env.tar.gz (a venv with the locked dependencies and the
#                          wheel, packed by venv-pack) and ship it with --archives: for clusters
#                          whose nodes have no such environment (YARN, Kubernetes, ephemeral nodes).
# The driver runs here with this project's .venv; all stages of jobs.pipeline run in one driver.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"  # the job itself runs in the caller's folder (its workspace)
python_bin="${PYTHON:-$root/.venv/bin/python}"
die() { echo "submit.sh: $*" >&2; exit 2; }

master="" workers_python="$python_bin" packed=0
confs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --master) master="$2"; shift 2 ;;
    --workers-python) workers_python="$2"; shift 2 ;;
    --packed-env) packed=1; shift ;;
    --spark-conf) confs+=(--conf "$2"); shift 2 ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
[ -n "$master" ] || die "give --master (e.g. the last line of scripts/cluster.sh start)"
[ $# -ge 1 ] || die "give a JOB, e.g. jobs.pipeline"
job="$1"; shift
[[ "$job" =~ ^jobs\.[a-z_]+$ ]] || die "JOB must be a module of jobs/, like jobs.compute_features (got $job)"
[ -f "$root/${job/./\/}.py" ] || die "no such job: ${job/./\/}.py"
[ -x "$python_bin" ] || die "$python_bin not found: run scripts/setup.sh first (or set PYTHON)"

# spark-submit starts the driver's JVM before the job reads conf/: conf's spark settings (the
# driver's heap among them) and JVM flags are read here, from the environment the job is given
# (--env, default local), and given on the command line (trip_features/runtime/submit_conf.py).
env_name=local
for ((i = 1; i <= $#; i++)); do
  case "${!i}" in
    --env=*) env_name="${!i#--env=}" ;;
    --env) j=$((i + 1)); [ "$j" -le $# ] && env_name="${!j}" ;;
  esac
done
settings="$(cd "$root" && "$python_bin" -m trip_features.runtime.submit_conf --env "$env_name" --caller submit.sh)" || exit 2
submit_conf=()
mapfile -t submit_conf <<<"$settings"

build="$root/build/submit"
mkdir -p "$build"
# Built from a clean copy of the sources, once per change of them
# (trip_features/runtime/project_wheel.py); the same bytes as a .zip beside it: PySpark puts only
# .zip/.egg/.jar files of --py-files on the executors' path.
wheel="$(cd "$root" && "$python_bin" -m trip_features.runtime.project_wheel "$root/build/wheels")" || exit 2
code_zip="$(dirname "$wheel")/trip_features_code.zip"
# The driver's entry point: runs the job module as `python -m` would.
cat >"$build/run_job.py" <<'EOF'
import runpy
import sys

job = sys.argv.pop(1)
runpy.run_module(job, run_name="__main__", alter_sys=True)
EOF

python_confs=(--conf "spark.pyspark.driver.python=$python_bin")
archives=()
if [ "$packed" = 1 ]; then
  env_dir="$build/env"
  env_key="$(basename "$(dirname "$wheel")") $(sha256sum <"$root/requirements.lock" | cut -c1-16)"
  if [ ! -f "$build/env.tar.gz" ] || [ "$(cat "$build/env.key" 2>/dev/null)" != "$env_key" ]; then
    rm -rf "$env_dir"
    "$python_bin" -m venv "$env_dir"
    "$env_dir/bin/python" -m pip install --quiet --require-hashes --no-deps -r "$root/requirements.lock"
    "$env_dir/bin/python" -m pip install --quiet --no-deps venv-pack "$wheel"
    "$env_dir/bin/venv-pack" --quiet --force -p "$env_dir" -o "$build/env.tar.gz"
    echo "$env_key" >"$build/env.key"
  fi
  archives=(--archives "$build/env.tar.gz#environment")
  python_confs+=(--conf "spark.pyspark.python=./environment/bin/python")
else
  python_confs+=(--conf "spark.pyspark.python=$workers_python")
fi

spark_submit="$(dirname "$python_bin")/spark-submit"
exec env -u PYTHONPATH PYSPARK_PYTHON="$python_bin" "$spark_submit" \
  --master "$master" --deploy-mode client \
  "${submit_conf[@]}" \
  --py-files "$code_zip" "${archives[@]}" "${python_confs[@]}" "${confs[@]}" \
  "$build/run_job.py" "$job" "$@"
