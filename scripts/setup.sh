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
  # browser test Debian's `chromium` (Playwright drives it; no browser is downloaded). Each
  # is installed on its own (root + apt), so one missing package cannot take the other with
  # it; a failure is said. Under .ci/run (BRAINGAN_CI=1) a test that would skip for want of
  # them fails instead.
  apt_install() {  # apt_install PACKAGE PROGRAM-THAT-SHOWS-IT-IS-THERE...
    local pkg=$1; shift
    for prog in "$@"; do command -v "$prog" >/dev/null 2>&1 || ls $prog >/dev/null 2>&1 && return 0; done
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
      echo "setup: $pkg is not installed and cannot be here (needs root and apt-get); its tests will skip" >&2
      return 0
    fi
    [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq || true; APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null \
      || echo "setup: apt-get install $pkg failed; its tests will skip (and fail under .ci/run)" >&2
  }
  apt_install postgresql initdb '/usr/lib/postgresql/*/bin/initdb'
  apt_install chromium chromium
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
if [ "${1:-}" = "--test" ]; then
  # the MOSES tests read the molsets wheel from the braingan cache, never from the network
  .venv/bin/python -c "from braingan.data import moses; print('MOSES data:', moses.wheel())" \
    || echo "setup: could not fetch the molsets wheel; the MOSES tests will skip (and fail under .ci/run)" >&2
fi
.venv/bin/python -c "import braingan, torch; print('braingan', braingan.__version__, '| torch', torch.__version__)"
