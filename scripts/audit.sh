#!/usr/bin/env bash
# Audit the pinned dependencies installed in .venv for known vulnerabilities with pip-audit
# (advisories from PyPI's JSON API, or from OSV with --osv). pip-audit lives in its own
# .venv-audit so that it never changes the project's environment. --strict: a package
# that could not be checked is a failure, not a pass.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "audit: no .venv; run scripts/setup.sh first" >&2; exit 2; }
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x .venv-audit/bin/pip-audit ] || { "$PY" -m venv .venv-audit && .venv-audit/bin/pip install -q pip-audit==2.10.1; }
service=pypi
[ "${1:-}" = "--osv" ] && service=osv
PIPAPI_PYTHON_LOCATION="$PWD/.venv/bin/python" .venv-audit/bin/pip-audit --skip-editable --strict \
  --vulnerability-service "$service" --progress-spinner off
