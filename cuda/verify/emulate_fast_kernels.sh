#!/usr/bin/env bash
# Compiles the fast kernels of cuda/*.cu for the host (emulate_fast_kernels.cpp, host_common.cuh) and runs them
# against double-precision loops. Needs g++ with C++20 (std::barrier) and _Float16 (GCC 12 on x86-64); no GPU.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cuda=$(dirname "$here")
marker='^// ---- vector access for the fastKernels'
grep -q "$marker" "$cuda/common.cuh" || { echo "emulate_fast_kernels.sh: no vector-access section in $cuda/common.cuh" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$here/host_common.cuh" "$tmp/common.cuh"
sed -n "\\|$marker|,\$p" "$cuda/common.cuh" >> "$tmp/common.cuh"
for f in layer_norm_channels global_avg_pool per_channel binary simple_gate; do cp "$cuda/$f.cu" "$tmp/"; done
cp "$here/emulate_fast_kernels.cpp" "$tmp/"
g++ -std=c++20 -O1 -fno-strict-aliasing -pthread -w -o "$tmp/emulate" "$tmp/emulate_fast_kernels.cpp"
"$tmp/emulate"
