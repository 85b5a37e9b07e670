#!/usr/bin/env bash
# A Spark standalone cluster on 127.0.0.1, from the Spark that pyspark installs.
#
#   scripts/cluster.sh start [--workers N] [--cores C] [--memory M]   # last line: spark://127.0.0.1:P
#   scripts/cluster.sh status
#   scripts/cluster.sh stop                                           # stops exactly what start started
#
# State (pids, ports, logs, worker folders with their executors' scratch files) lives in $TRIP_FEATURES_CLUSTER_DIR (default .cluster/).
# Workers run their executors' Python as the driver asks (spark.pyspark.python), from their own
# work folders: see scripts/submit.sh for how the project and its dependencies reach them.
set -euo pipefail
cd "$(dirname "$0")/.."
state="${TRIP_FEATURES_CLUSTER_DIR:-$PWD/.cluster}"
python_bin="${PYTHON:-$PWD/.venv/bin/python}"

die() { echo "cluster.sh: $*" >&2; exit 2; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
free_port() { "$python_bin" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

stop() {
  local stopped=0
  for pidfile in "$state"/worker-*.pid "$state"/master.pid; do
    [ -f "$pidfile" ] || continue
    if alive "$pidfile"; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
      for _ in $(seq 1 50); do alive "$pidfile" || break; sleep 0.2; done
      alive "$pidfile" && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
      stopped=$((stopped + 1))
    fi
    rm -f "$pidfile"
  done
  rm -f "$state/master.url"
  echo "stopped $stopped process(es)"
}

status() {
  if alive "$state/master.pid"; then
    echo "running: $(cat "$state/master.url") (master pid $(cat "$state/master.pid"), $(ls "$state"/worker-*.pid 2>/dev/null | wc -l) worker(s))"
  else
    echo "not running"
    return 1
  fi
}

start() {
  local workers=2 cores=1 memory=2g
  while [ $# -gt 0 ]; do
    case "$1" in
      --workers) workers="$2"; shift 2 ;;
      --cores) cores="$2"; shift 2 ;;
      --memory) memory="$2"; shift 2 ;;
      *) die "unknown option $1 (use --workers N --cores C --memory M)" ;;
    esac
  done
  if alive "$state/master.pid"; then
    die "a cluster is already running at $(cat "$state/master.url"): stop it first (scripts/cluster.sh stop)"
  fi
  [ -x "$python_bin" ] || die "$python_bin not found: run scripts/setup.sh first (or set PYTHON)"
  local spark_home
  spark_home="$("$python_bin" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
  export SPARK_HOME="$spark_home" SPARK_LOCAL_IP=127.0.0.1
  mkdir -p "$state"
  local port web
  port="$(free_port)"
  web="$(free_port)"
  nohup "$spark_home/bin/spark-class" org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port "$port" --webui-port "$web" >"$state/master.log" 2>&1 &
  echo $! >"$state/master.pid"
  echo "$web" >"$state/master.webui"
  local url="spark://127.0.0.1:$port"
  for i in $(seq 1 "$workers"); do
    mkdir -p "$state/worker-$i"
    # Executors' scratch files in the worker's folder, not /tmp: a worker that dies leaves them
    SPARK_LOCAL_DIRS="$state/worker-$i/local" nohup "$spark_home/bin/spark-class" org.apache.spark.deploy.worker.Worker "$url" \
      --host 127.0.0.1 --cores "$cores" --memory "$memory" --webui-port "$(free_port)" \
      --work-dir "$state/worker-$i" >"$state/worker-$i.log" 2>&1 &
    echo $! >"$state/worker-$i.pid"
  done
  # Ready when the master lists every worker as ALIVE.
  for _ in $(seq 1 120); do
    local registered
    registered="$("$python_bin" - "$web" <<'EOF' 2>/dev/null || echo 0
import json, sys, urllib.request
state = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json", timeout=2))
print(sum(w["state"] == "ALIVE" for w in state["workers"]))
EOF
)"
    if [ "$registered" = "$workers" ]; then
      echo "$url" >"$state/master.url"
      echo "master and $workers worker(s) of $cores core(s) ready; web UI http://127.0.0.1:$web"
      echo "$url"
      return 0
    fi
    alive "$state/master.pid" || { stop >/dev/null; die "the master died: see $state/master.log"; }
    sleep 0.5
  done
  stop >/dev/null
  die "the workers did not register within 60 s: see $state/*.log"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: scripts/cluster.sh start [--workers N] [--cores C] [--memory M] | status | stop" ;;
esac
