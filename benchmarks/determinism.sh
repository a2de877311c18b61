#!/usr/bin/env bash
# Restores the same images twice, in two JVMs, with the same seed, and compares the outputs byte for byte
# (issue 12, item 13). Inputs: two 192x192 crops of each image of ../shared/images; golden set A's tiny model.
#   benchmarks/determinism.sh [WORKDIR (default /tmp/autodir-determinism)]
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-/tmp/autodir-determinism}"
rm -rf "$work" && mkdir -p "$work/in"
java benchmarks/determinism/Crop.java ../shared/images "$work/in"
for run in a b; do
  bin/autodir restore "$work/in" --weights ../shared/golden/A/weights.safetensors --config configs/golden-A.yaml \
    --steps 10 --max-passes 2 -q -o "$work/out-$run" > "$work/log-$run" 2>&1
done
n=0; d=0
for f in "$work"/out-a/*.png; do
  n=$((n + 1))
  cmp -s "$f" "$work/out-b/$(basename "$f")" || { d=$((d + 1)); echo "differs: $(basename "$f")"; }
done
echo "$d of $n outputs differ between the two runs"
[ "$d" -eq 0 ]
