#!/usr/bin/env bash
# A warm Spark Connect server on 127.0.0.1, from the Spark that pyspark installs: jobs started
# with --remote sc://127.0.0.1:P (or SPARK_REMOTE) skip the JVM start and run on warm executors.
#
#   scripts/connect-server.sh start [--port P] [--master local[2]] [--env local]   # last line: sc://127.0.0.1:P
#   scripts/connect-server.sh status
#   scripts/connect-server.sh stop                                    # by its pid
#
# State (pid, url, log, the warehouse of its tables, its temp files) lives in $TRIP_FEATURES_CONNECT_DIR (default .connect/). The server's Python
# workers run this project's interpreter ($PYTHON, default .venv/bin/python), which has the native
# dependencies; the jobs ship the project's own code to each session (spark.addArtifacts).
set -euo pipefail
cd "$(dirname "$0")/.."
state="${TRIP_FEATURES_CONNECT_DIR:-$PWD/.connect}"
python_bin="${PYTHON:-$PWD/.venv/bin/python}"

die() { echo "connect-server.sh: $*" >&2; exit 2; }
alive() { [ -f "$state/server.pid" ] && kill -0 "$(cat "$state/server.pid")" 2>/dev/null; }

stop() {
  if alive; then
    local pid
    pid="$(cat "$state/server.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    echo "stopped the Connect server (pid $pid)"
  else
    echo "no Connect server running"
  fi
  rm -f "$state/server.pid" "$state/server.url"
  rm -rf "$state/tmp"  # the stopped server's scratch files
}

start() {
  local port="" master="local[2]" env_name="local"
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port="$2"; shift 2 ;;
      --master) master="$2"; shift 2 ;;
      --env) env_name="$2"; shift 2 ;;
      *) die "unknown option $1 (use --port P --master URL --env E)" ;;
    esac
  done
  alive && die "a Connect server is already running at $(cat "$state/server.url"): stop it first"
  [ -x "$python_bin" ] || die "$python_bin not found: run scripts/setup.sh first (or set PYTHON)"
  [ -n "$port" ] || port="$("$python_bin" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  local spark_home
  spark_home="$("$python_bin" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
  mkdir -p "$state"
  # conf's spark settings (the heap among them), its JVM flags and the driver's class archive: the
  # server's sessions run as a session built in-process does (trip_features/runtime/submit_conf.py)
  local settings
  settings="$("$python_bin" -m trip_features.runtime.submit_conf --env "$env_name" --caller connect-server.sh)" || exit 2
  local submit_conf=()
  mapfile -t submit_conf <<<"$settings"
  # Spark Connect gives its sessions' Python workers the server's own environment, not conf's
  # spark.executorEnv (as a classic session does): so the server gets those variables.
  local worker_env=() line
  for line in "${submit_conf[@]}"; do
    if [[ "$line" == spark.executorEnv.*=* ]]; then worker_env+=("${line#spark.executorEnv.}"); fi
  done
  # Its temp files (Spark's scratch folders, a folder per session for Connect's model cache) in
  # $state/tmp, removed by stop, not in /tmp, where Spark leaves the sessions' folders behind.
  mkdir -p "$state/tmp"
  # What sbin/start-connect-server.sh runs, in the foreground of a background job, so its pid is ours.
  SPARK_HOME="$spark_home" SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$python_bin" TZ=UTC \
    SPARK_SUBMIT_OPTS="${SPARK_SUBMIT_OPTS:-} -Djava.io.tmpdir=$state/tmp" \
    nohup env "${worker_env[@]}" "$spark_home/bin/spark-submit" --master "$master" \
    --class org.apache.spark.sql.connect.service.SparkConnectServer \
    --name trip-features-connect \
    "${submit_conf[@]}" \
    --conf spark.connect.grpc.binding.address=127.0.0.1 \
    --conf spark.connect.grpc.binding.port="$port" \
    --conf spark.sql.warehouse.dir="$state/warehouse" \
    --conf spark.ui.enabled=false \
    spark-internal >"$state/server.log" 2>&1 &
  echo $! >"$state/server.pid"
  for _ in $(seq 1 120); do
    if "$python_bin" -c "import socket, sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then
      echo "sc://127.0.0.1:$port" >"$state/server.url"
      echo "Connect server ready (pid $(cat "$state/server.pid"), log $state/server.log)"
      echo "sc://127.0.0.1:$port"
      return 0
    fi
    alive || { rm -f "$state/server.pid"; die "the server died: see $state/server.log"; }
    sleep 0.5
  done
  stop >/dev/null
  die "the server did not listen on 127.0.0.1:$port within 60 s: see $state/server.log"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop ;;
  status) if alive; then echo "running: $(cat "$state/server.url")"; else echo "not running"; exit 1; fi ;;
  *) die "usage: scripts/connect-server.sh start [--port P] [--master URL] [--env E] | status | stop" ;;
esac
