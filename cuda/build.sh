#!/usr/bin/env bash
# Compiles every cuda/*.cu into a fatbin (sm_90 SASS + compute_90 PTX) for the jar's resources.
# Usage: cuda/build.sh NVCC SOURCE_DIR OUTPUT_DIR
# Run by the Maven profile "cuda-kernels" at generate-resources when nvcc exists; a file is rebuilt only when
# its .cu or common.cuh is newer than its fatbin. A compile error fails the build (a broken kernel is a bug);
# without nvcc the profile is off and the backend compiles the packaged .cu sources with NVRTC at run time.
set -euo pipefail
nvcc="$1"; src="$2"; out="$3"
mkdir -p "$out"
flags=(--fatbin -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 -I"$src")
built=0
for cu in "$src"/*.cu; do
  name=$(basename "$cu" .cu)
  fat="$out/$name.fatbin"
  if [[ -f "$fat" && "$fat" -nt "$cu" && "$fat" -nt "$src/common.cuh" ]]; then continue; fi
  "$nvcc" "${flags[@]}" -o "$fat.tmp" "$cu"
  mv "$fat.tmp" "$fat"
  built=$((built + 1))
done
echo "cuda/build.sh: $built fatbin(s) rebuilt in $out"
