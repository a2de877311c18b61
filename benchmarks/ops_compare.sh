#!/bin/bash
# Times every case of OpsBenchmark (Java, cpu backend) and benchmarks/torch/ops_torch.py (PyTorch) back to
# back, case by case, so each pair sees the same machine load. Per case: Java with the environment as it
# is, Java with OPENBLAS_CORETYPE unset (OpenBLAS picks its own kernels: AVX-512 on this machine), PyTorch
# as installed, and for the matrix-product cases PyTorch with the same OpenBLAS preloaded (Debian's
# python3-torch otherwise calls the reference BLAS). Appends to the file given as $1 (default
# target/ops_compare.txt). Takes ~6 minutes; the 2 cores are shared, so note the load it prints.
#
#   mvn -q -o test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test
#   bash benchmarks/ops_compare.sh [out-file]
set -u
cd "$(dirname "$0")/.."
OUT=${1:-target/ops_compare.txt}
CP=target/classes:target/test-classes:$(cat target/cp.txt)
J="java --add-modules jdk.incubator.vector -Xmx8g -XX:+UseParallelGC -cp $CP dev.autodir.backend.cpu.OpsBenchmark"
P="/usr/bin/python3 benchmarks/torch/ops_torch.py"
OB=$(find "$HOME/.javacpp/cache" -name 'libopenblas_nolapack.so.0' 2>/dev/null | head -1)
for c in $($J --list 2>/dev/null | tr ' ' '~'); do
  c=${c//\~/ }
  echo "### $c  (load $(cut -d' ' -f1 /proc/loadavg))" >> "$OUT"
  echo "java-env   $($J "^$c" 2>/dev/null | grep median)" >> "$OUT"
  echo "java-auto  $(env -u OPENBLAS_CORETYPE $J "^$c" 2>/dev/null | grep median)" >> "$OUT"
  echo "torch      $($P "^$c" 2>&1 | grep median)" >> "$OUT"
  case "$c" in
    linear*|attention*|cross*|unet\ transformer*)
      [ -n "$OB" ] && echo "torch+ob   $(env -u OPENBLAS_CORETYPE LD_PRELOAD=$OB $P "^$c" 2>&1 | grep median)" >> "$OUT" ;;
  esac
done
echo "done $(date +%T)" >> "$OUT"
