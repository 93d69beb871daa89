#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the project with its pinned dependencies
# (pyproject.toml). `--test` adds the test tools. Safe to run again: it only tops up.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
.venv/bin/python -c "import braingan, torch; print('braingan', braingan.__version__, '| torch', torch.__version__)"
