#!/usr/bin/env bash
# Sets up a fresh machine: checks Java 17, creates .venv, installs the exact versions CI tested
# (requirements.lock, hash-checked; refresh it with scripts/lock.sh), then the project itself.
#
#   bash scripts/setup.sh                       the project and its Python dependencies
#   bash scripts/setup.sh --with-test-services  also what the tests start or call (redis-server,
#                                               dot, chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--with-test-services" ]; then
  # redis-server: the Redis online store tests; dot (graphviz): the lineage pictures' tests;
  # chromium: the tests that render the Feast UI and the quality page in a real browser
  missing=""
  command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
  command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
  command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
  if [ -n "$missing" ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
      echo "The tests need:$missing. Install them (Redis 6 or newer, Graphviz, Chromium) so they are on PATH." >&2
      exit 1
    fi
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    echo "installing$missing (Debian packages) for the tests"
    $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq $missing >/dev/null
  fi
  # The redis package starts a system service on 6379; the tests start their own on a free port.
elif [ -n "${1:-}" ]; then
  echo "unknown option $1: use --with-test-services or nothing" >&2
  exit 2
fi

if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
  echo "Spark needs Java 17: install it (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME." >&2
  exit 1
fi
java_bin="${JAVA_HOME:+$JAVA_HOME/bin/}java"
major=$("$java_bin" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
if [ -z "$major" ] || [ "$major" -lt 17 ]; then
  echo "Spark 4 needs Java 17 or newer; found: $("$java_bin" -version 2>&1 | head -n1)" >&2
  exit 1
fi

python_bin="${PYTHON:-python3}"
if ! "$python_bin" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)'; then
  echo "Python 3.11 or 3.12 is needed; $python_bin is $("$python_bin" --version 2>&1). Set PYTHON=..." >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
.venv/bin/python -m pip install --quiet --no-deps -e .
# Spark's classes in one archive the JVM maps (trip_features/runtime/class_data_sharing.py): fresh
# jobs start seconds sooner. Once per Java and Spark installation; jobs run without it, only slower
# to start.
if ! .venv/bin/python -m jobs.class_archive; then
  echo "warning: the JVM class archive could not be made (above); jobs run, only start slower" >&2
fi
echo "ready: .venv (Java $major, $(.venv/bin/python --version))"
