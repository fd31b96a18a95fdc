#!/usr/bin/env bash
# Quick start: install Sovra, then start an embedded instance on 127.0.0.1 with the
# sample collection "demo" loaded, so the README's example question has documents to
# answer from (issue 15).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/sovra up --demo "$@"
