#!/usr/bin/env bash
# Install everything the checks need, then run every check: ruff, mypy, the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system-deps.sh
SOVRA_EXTRAS="[test]" scripts/install.sh
echo "== ruff"
.venv/bin/ruff check src tests benchmarks
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
