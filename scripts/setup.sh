#!/usr/bin/env bash
# Sets up a fresh machine: checks Java 17, creates .venv, installs the exact versions CI tested
# (requirements.lock, hash-checked; refresh it with scripts/lock.sh), then the project itself.
set -euo pipefail
cd "$(dirname "$0")/.."

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
echo "ready: .venv (Java $major, $(.venv/bin/python --version))"
