#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the project with its pinned dependencies
# (pyproject.toml). `--test` adds the test tools. Safe to run again: it only tops up.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
extras=""
if [ "${1:-}" = "--test" ]; then
  extras="[test]"
  # The team-server tests need PostgreSQL's server programs (Debian's `postgresql`);
  # install them where we can (root + apt), else those tests skip and say why.
  if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
        || echo "setup: could not install postgresql; the team-server tests will skip" >&2
    else
      echo "setup: postgresql not installed (needs root + apt-get); the team-server tests will skip" >&2
    fi
  fi
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
.venv/bin/python -c "import braingan, torch; print('braingan', braingan.__version__, '| torch', torch.__version__)"
