#!/usr/bin/env bash
# Refreshes requirements.lock: exact versions with hashes of everything setup.cfg asks for (and the
# test extra, which includes the Spark Connect client), for Python 3.11 and 3.12 on any platform. Run it after changing setup.cfg's ranges,
# then run the tests and commit both files.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/uv ] || .venv/bin/python -m pip install --quiet uv
.venv/bin/uv pip compile setup.cfg --extra test --universal --python-version 3.11 \
  --generate-hashes --quiet --output-file requirements.lock
echo "requirements.lock refreshed: $(grep -c '^[a-zA-Z]' requirements.lock) packages"
