#!/usr/bin/env bash
# Quick start: install Sovra, then start an embedded instance on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/sovra up "$@"
