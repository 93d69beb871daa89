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
  # The team-server tests need PostgreSQL's server programs (Debian's `postgresql`), the
  # browser test Debian's `chromium` (Playwright drives it; no browser is downloaded).
  # Install them where we can (root + apt), else those tests skip and say why.
  need=""
  command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
  command -v chromium >/dev/null || need="$need chromium"
  if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null) \
        || echo "setup: could not install$need; the tests that need them will skip" >&2
    else
      echo "setup:$need not installed (needs root + apt-get); the tests that need them will skip" >&2
    fi
  fi
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
.venv/bin/python -c "import braingan, torch; print('braingan', braingan.__version__, '| torch', torch.__version__)"
