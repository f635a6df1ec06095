#!/usr/bin/env bash
# Soak: one infill server with the real model, typed at through the bench trace (each round
# re-types other function bodies) for MINUTES (default 30), its resident memory sampled every
# EVERY seconds (default 5) into a CSV. Prints the latency report and one line on the memory
# curve: first, after warm-up (the first tenth), peak, last, and the trend after warm-up in
# MiB/h (flat after warm-up: near 0; a leak: steadily positive).
#
#   assets/soak.sh [MINUTES] [CSV]          e.g. assets/soak.sh 30 soak-rss.csv
#   MODEL=path/to.gguf EVERY=10 assets/soak.sh 60
#
# The model: $MODEL, else whatever `infill` finds ($INFILL_MODEL, then the path
# assets/fetch-model.sh downloads to). Extra `infill bench` flags go in $BENCH_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-30}"
csv="${2:-soak-rss.csv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/infill/target}"
cargo build --release --locked --bin infill >&2
model_flag=()
if [[ -n "${MODEL:-}" ]]; then model_flag=(--model "$MODEL"); fi
# shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
"$CARGO_TARGET_DIR/release/infill" "${model_flag[@]}" bench --minutes "$minutes" \
  --rss-csv "$csv" --rss-every "${EVERY:-5}" ${BENCH_FLAGS:-}
echo "memory curve: $csv" >&2
