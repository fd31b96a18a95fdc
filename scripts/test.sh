#!/usr/bin/env bash
# Install everything the checks need, then run every check: ruff, mypy, the test suite.
# The suite runs in a network namespace that has only loopback (when this machine allows
# one), which proves Sovra needs nothing beyond 127.0.0.1 at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system-deps.sh
SOVRA_EXTRAS="[test]" scripts/install.sh
# The offline wheelhouse, built while the index is reachable: tests/transfer/
# test_wheelhouse.py installs Sovra from it inside the loopback-only namespace.
export SOVRA_WHEELHOUSE="${SOVRA_WHEELHOUSE:-$PWD/dist/wheelhouse}"
scripts/wheelhouse.sh "$SOVRA_WHEELHOUSE"
echo "== ruff"
.venv/bin/ruff check src tests benchmarks
echo "== mypy"
.venv/bin/mypy
echo "== import contract (.importlinter)"
.venv/bin/lint-imports --no-cache
echo "== pytest"
if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
  exec unshare -n -- env SOVRA_TEST_OFFLINE=1 bash -c \
    'ip link set lo up && exec .venv/bin/python -m pytest "$@"' pytest "$@"
fi
echo "note: cannot create a network namespace here; running with the host network"
exec .venv/bin/python -m pytest "$@"
