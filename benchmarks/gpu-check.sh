#!/usr/bin/env bash
# The device check: ONE call on the lent GPU machine, from the repository root, with .device/ carried:
#
#   run command: bash benchmarks/gpu-check.sh     carry: [".device"]     timeout_s: 500
#   (prepare here first: benchmarks/gpu/prepare.sh builds .device/payload.tar.xz: Java runtime, jar, test
#   classes, benchmark classes; golden set A travels in the working tree; the sizes are checked by prepare.sh). About 8-9 device minutes with the start,
#   which leaves a rerun inside the 15. Overrides: BUDGET, T_TESTS, T_GOLDEN, T_CUDABENCH, T_TORCH, T_BENCH,
#   T_COMPILED, T_GUARD, T_QUANT, GUARD_RUNS, BENCH_NETWORKS, e.g. "BUDGET=250 bash benchmarks/gpu-check.sh" for a shorter rerun.
#
# Steps, each with its own timeout and log under $OUT, continuing after a failure, in priority order within an
# overall budget (BUDGET seconds, default 420; a short rerun with BUDGET=250 still fits the 15 device minutes):
#   env      GPU, driver, PyTorch's CUDA libraries (LD_LIBRARY_PATH is built from them and printed), SASS check
#   probe    CudaProbe: GPU usable, cuBLASLt / cuDNN / kernels load (rerun with JavaCPP's debug log on failure)
#   tests    JUnit console: every test class of dev.autodir.backend.cuda (conformance FP32 + FP16, kernels,
#            graphs, golden sampler / CLIP checks; the new int32 / argmax / softmax / normalizeRows / matmul / exp /
#            mulScalar / keep operations run in the conformance suites)
#   quant    CudaQuantCheck: one UNet step at 512² (random official-size weights, a synthetic calibration), cuda fp16
#            against cuda:int8 and cuda:fp8 (cc ≥ 8.9) side by side: medians and rel-L2 from fp16 (T_QUANT, 120 s). The
#            check of cuda:int8/fp8 against the cpu FakeQuantOps reference is CudaQuantizedOpsTest in the tests step.
#            Written without a GPU: never run yet.
#   golden   "golden-check <set> --backend cuda [--precision fp16]", with the unverified Features off, then on
#            (-Dautodir.cuda.unverified=true; see src/main/java/dev/autodir/backend/cuda/Features.java; "on" includes
#            the graphs feature, so every golden network case then runs as a compiled CUDA graph); on a failure,
#            each feature alone
#   compiled CompiledNetworkCheck: every network (unet, vae-encode/decode, scm, clip-text/vision, biqa) at 512² with
#            random weights as a CUDA graph (graphs feature alone) against its eager run, FP16 and FP32: captured,
#            same outputs, outputs valid across endStage, replays after the arena regrew and cuDNN's workspace
#            grew, stale outputs refused, eager vs graph times; FP32 against the cpu backend at 256²
#   parity   FeatureParity: UNet, VAE decode/encode, SCM at 512² with random weights, features on against off
#   cudabench  CudaBench: kernels and libraries at network shapes (conv: cuDNN vs implicit GEMM)
#   torch    benchmarks/gpu/torch_bench.py: PyTorch fp16 UNet / VAE decode / NAFNet / CLIP-L and micro-shapes
#   bench    "bench --network N --backend cuda" per network, Features off then on, side by side
#   guard    the latency guard's GPU form (benchmarks/src/main/java/dev/autodir/benchmarks/LatencyGuard.java): a
#            baseline from 3 runs when none is committed, then a plain run and a planted +20% UNet run against it
#   pipeline one automatic pass at 512² (20 steps), Features off then on
#   tensorrt (right after probe) only when libnvinfer.so.10 and libnvonnxparser.so.10 are on the machine (searched in LD_LIBRARY_PATH,
#            ldconfig's cache, the system lib folders, /usr/local/tensorrt and pip's tensorrt_libs): TensorRTCheck
#            builds (optimisation level TRT_OPT_LEVEL, default 2, to fit the budget) and times the scm, vae-decode
#            and unet engines at 512² in fp16 and compares them with cuda fp32 / fp16 and cpu; budget T_TRT
#            (default 240 s, taken from the overall BUDGET, so the later steps shrink or skip). Without libnvinfer it costs nothing and the summary
#            says "tensorrt SKIPPED" with what it searched. TensorRT has never been on the lent machines so far.
# Files back in $OUT (8 at most): env.log tests.log junit.xml golden.log cudabench.log torch.log bench.log
# summary.txt. The summary is printed last.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-$ROOT/target/gpu-out}
WORK=${WORK:-/tmp/autodir-device}
BUDGET=${BUDGET:-420}
T_TESTS=${T_TESTS:-200} T_GOLDEN=${T_GOLDEN:-60} T_CUDABENCH=${T_CUDABENCH:-90} T_TORCH=${T_TORCH:-90} T_BENCH=${T_BENCH:-45}
BENCH_NETWORKS=${BENCH_NETWORKS:-unet vae-decode vae-encode scm clip-vision clip-text}
BENCH_PRECISIONS=${BENCH_PRECISIONS:-fp16}
mkdir -p "$OUT"
START=$(date +%s)
SUMMARY=()

elapsed() { echo $(( $(date +%s) - START )); }
note() { echo "[gpu-check $(elapsed)s] $*"; }
record() { SUMMARY+=("$(printf '%-30s %-12s %5ss  %s' "$1" "$2" "$3" "${4:-}")"); }

# run_step NAME TIMEOUT LOG CMD...: the command under timeout, its output appended to LOG; sets STATUS and SECS
run_step() {
  local name=$1 limit=$2 log=$3
  shift 3
  local left=$(( BUDGET - $(elapsed) - 20 ))
  (( limit > left )) && limit=$left
  if (( limit < 10 )); then
    STATUS="SKIPPED"; SECS=0; echo "===== $name: SKIPPED, no time left in the ${BUDGET}s budget" >>"$log"
    note "$name: skipped (budget)"; return
  fi
  note "$name (timeout ${limit}s) -> $(basename "$log")"
  echo "===== $name (timeout ${limit}s): $*" >>"$log"
  local s=$(date +%s)
  timeout -k 5 "$limit" "$@" >>"$log" 2>&1
  local rc=$?
  SECS=$(( $(date +%s) - s ))
  if (( rc == 0 )); then STATUS=PASS
  elif (( rc == 124 || rc == 137 )); then STATUS=TIMEOUT
  else STATUS="FAIL($rc)"; fi
  echo "===== $name: $STATUS after ${SECS}s" >>"$log"
}

# ---- unpack -------------------------------------------------------------------------------------------
note "unpacking .device/payload.tar.xz into $WORK"
rm -rf "$WORK" && mkdir -p "$WORK"
if ! tar -xJf .device/payload.tar.xz -C "$WORK" 2>"$OUT/env.log" &&
   ! python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' .device/payload.tar.xz "$WORK" 2>>"$OUT/env.log"; then
  echo "cannot unpack .device/payload.tar.xz (was benchmarks/gpu/prepare.sh run and .device carried?)" | tee -a "$OUT/env.log"
  exit 1
fi
JAVA=$WORK/jre/bin/java
# golden set A: the payload's when prepare.sh was given GOLDEN=DIR, else the working tree's copy
GOLDEN_DIR=$WORK/golden/A
[ -d "$GOLDEN_DIR" ] || GOLDEN_DIR=$ROOT/src/test/resources/golden/A
JOPTS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g -XX:+UseParallelGC
       -Dautodir.golden="$GOLDEN_DIR")
CP="$WORK/autodir.jar:$WORK/test-classes"

# ---- env ----------------------------------------------------------------------------------------------
ENV=$OUT/env.log
{
  echo "== $(date -u) $(uname -a)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv 2>&1
  nvidia-smi 2>&1 | head -15
  echo "== python / torch"
  python3 -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
  echo "== CUDA libraries (PyTorch wheels, /usr/local/cuda)"
} >>"$ENV" 2>&1
SITES=$(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null)
ROOTS=()
for s in $SITES; do [ -d "$s/nvidia" ] && ROOTS+=("$s/nvidia"); done
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu /usr/local/nvidia/lib64; do
  [ -d "$d" ] && ROOTS+=("$d")
done
LIBDIRS=$(find "${ROOTS[@]}" \( -name 'libcublas.so.13*' -o -name 'libcublasLt.so.13*' -o -name 'libcudnn.so.9*' \
    -o -name 'libcudnn_*.so.9*' -o -name 'libnvrtc.so.13*' -o -name 'libnvrtc-builtins.so.13*' -o -name 'libcudart.so.13*' \
    -o -name 'libcuda.so.1' \) -printf '%h\n' 2>/dev/null | awk '!seen[$0]++')
export LD_LIBRARY_PATH=$(echo "$LIBDIRS" | paste -sd: -)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
{
  find "${ROOTS[@]}" \( -name 'libcublas*.so.*' -o -name 'libcudnn.so.*' -o -name 'libnvrtc*.so.*' -o -name 'libcudart.so.*' \
      -o -name 'libcuda.so.*' \) 2>/dev/null | sort
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  echo "== java"
  "$JAVA" -version 2>&1
  echo "== JNI libraries: unresolved dependencies"
  mkdir -p "$WORK/jni"
  python3 - "$WORK/autodir.jar" "$WORK/jni" <<'PY' 2>&1
import os, sys, zipfile
jar, out = sys.argv[1], sys.argv[2]
wanted = ["org/bytedeco/cuda/linux-x86_64/libjnicudart.so", "org/bytedeco/cuda/linux-x86_64/libjnicublas.so",
          "org/bytedeco/cuda/linux-x86_64/libjnicudnn.so", "org/bytedeco/cuda/linux-x86_64/libjninvrtc.so",
          "dev/autodir/cuda/attention_flash.fatbin", "dev/autodir/cuda/conv2d_igemm.fatbin"]
with zipfile.ZipFile(jar) as z:
    names = set(z.namelist())
    for w in wanted:
        if w in names:
            with open(os.path.join(out, os.path.basename(w)), "wb") as f:
                f.write(z.read(w))
        else:
            print("not in the jar:", w)
PY
  for l in "$WORK"/jni/*.so; do echo "$(basename "$l"): $(ldd "$l" 2>&1 | grep -E 'not found|libcuda|libcudart|libcublas|libcudnn|libnvrtc' | tr -s ' \t' ' ' | paste -sd';' -)"; done
  echo "== SASS of the tensor-core kernels (HMMA count; 0 would mean a slow path)"
  if command -v cuobjdump >/dev/null; then
    for f in "$WORK"/jni/*.fatbin; do
      echo "$(basename "$f"): $(cuobjdump -sass "$f" 2>/dev/null | grep -c HMMA) HMMA, $(cuobjdump -sass "$f" 2>/dev/null | grep -cE 'LDL|STL') local-memory instructions"
    done
  else
    echo "cuobjdump not found"
  fi
} >>"$ENV" 2>&1
GPU=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
record "env" "DONE" "$(elapsed)" "${GPU:-no nvidia-smi}"

# ---- probe --------------------------------------------------------------------------------------------
run_step probe 60 "$ENV" "$JAVA" "${JOPTS[@]}" -cp "$CP" dev.autodir.backend.cuda.CudaProbe
PROBE=$STATUS
if [ "$PROBE" != PASS ]; then
  run_step probe-debug 60 "$ENV" "$JAVA" "${JOPTS[@]}" -Dorg.bytedeco.javacpp.logger.debug=true -cp "$CP" dev.autodir.backend.cuda.CudaProbe
fi
record "probe (libraries load)" "$PROBE" "$SECS" "$(grep -E '^PROBE' "$ENV" | head -2 | cut -c1-160 | paste -sd'|' -)"

# ---- tensorrt: only where TensorRT is installed (its 533 MB redistributable cannot travel with the payload) ----
TRTLOG=$OUT/bench.log   # first when TensorRT is there: the only chance to check it; the later steps share what is left
TRT_DIRS=$( { echo "${LD_LIBRARY_PATH:-}" | tr ':' '\n'; ldconfig -p 2>/dev/null | awk '/libnvinfer\.so\.10/ {print $NF}' | xargs -r -n1 dirname;
  echo /usr/lib/x86_64-linux-gnu; echo /usr/local/tensorrt/lib; for s in $SITES; do echo "$s/tensorrt_libs"; echo "$s/tensorrt"; done; } |
  awk 'NF && !seen[$0]++')
NVINFER=""
for d in $TRT_DIRS; do
  if [ -e "$d/libnvinfer.so.10" ] && [ -e "$d/libnvonnxparser.so.10" ]; then NVINFER=$d/libnvinfer.so.10; break; fi
done
if [ -n "$NVINFER" ]; then
  export LD_LIBRARY_PATH=$(dirname "$NVINFER")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  echo "== tensorrt: found $NVINFER" >>"$TRTLOG"
  run_step "tensorrt engines 512 fp16" "${T_TRT:-240}" "$TRTLOG" "$JAVA" "${JOPTS[@]}" -Dautodir.tensorrt.cache=/tmp/autodir-trt-cache \
      -cp "$CP" dev.autodir.backend.tensorrt.TensorRTCheck --opt-level "${TRT_OPT_LEVEL:-2}" --precision fp16 512 scm vae-decode unet
  record "tensorrt (scm, vae-decode, unet)" "$STATUS" "$SECS" "$(grep -cE '^TRT .* PASS' "$TRTLOG") pass, $(grep -cE '^TRT .* FAIL' "$TRTLOG") fail"
else
  echo "tensorrt: SKIPPED: no libnvinfer.so.10 + libnvonnxparser.so.10 on this machine (searched: $(echo $TRT_DIRS | tr ' ' ','))" | tee -a "$TRTLOG"
  record "tensorrt" "SKIPPED" 0 "no libnvinfer.so.10 on this machine: TensorRT not checked"
fi

# ---- tests --------------------------------------------------------------------------------------------
TESTS=$OUT/tests.log
run_step tests "$T_TESTS" "$TESTS" "$JAVA" "${JOPTS[@]}" -jar "$WORK/junit-console.jar" execute --disable-banner \
    --class-path "$CP" --select-package dev.autodir.backend.cuda --exclude-classname '.*KernelEmulationTest' --details=tree --details-theme=ascii --disable-ansi-colors --reports-dir "$WORK/reports"
COUNTS=$(grep -E '^\[ +[0-9]+ tests (successful|failed|skipped|aborted) +\]' "$TESTS" | tr -s ' []' ' ' | paste -sd',' -)
record "tests cuda FP32+FP16" "$STATUS" "$SECS" "$COUNTS"
cp "$WORK/reports/TEST-junit-jupiter.xml" "$OUT/junit.xml" 2>/dev/null

# ---- cuda:int8 / cuda:fp8 (CudaQuantizedOps): UNet step timing against cuda fp16 -----------------------------------
run_step "quant unet 512 fp16/int8/fp8" "${T_QUANT:-120}" "$OUT/bench.log" "$JAVA" "${JOPTS[@]}" -cp "$CP" dev.autodir.backend.cuda.CudaQuantCheck 512 10
record "cuda int8/fp8 unet timing" "$STATUS" "$SECS" "$(grep -E '^QUANT unet .*(int8|fp8)' "$OUT/bench.log" | cut -c1-70 | paste -sd'|' -)"

# ---- the lead's CLI hooks -------------------------------------------------------------------------------
CLI=("$JAVA" "${JOPTS[@]}" -jar "$WORK/autodir.jar")
GOLDENLOG=$OUT/golden.log
# a command exists when its --help exits 0 and names it (a CLI that ignores its arguments does not count)
has_command() { local help; help=$(timeout 30 "${CLI[@]}" "$1" --help 2>&1) && grep -q -- "$1" <<<"$help"; }
ISOLATE=""
if [ -d "$GOLDEN_DIR" ] && has_command golden-check; then
  # every check twice: the verified default paths, then with the Features paths written without a GPU
  # (-Dautodir.cuda.unverified=true: attentionGemm, fastKernels, convIm2col, convGraph)
  for feat in off on; do
    for prec in fp32 fp16; do
      extra=(); [ "$prec" = fp16 ] && extra=(--precision fp16)
      run_step "golden-check $prec features $feat" "$T_GOLDEN" "$GOLDENLOG" "$JAVA" "${JOPTS[@]}" -Dautodir.cuda.unverified=$([ $feat = on ] && echo true || echo false) \
          -jar "$WORK/autodir.jar" golden-check "$GOLDEN_DIR" --backend cuda "${extra[@]}"
      record "golden-check cuda $prec feat $feat" "$STATUS" "$SECS" "$(grep -E 'passed, ' "$GOLDENLOG" | tail -1)"
      [ "$feat" = on ] && [ "$STATUS" != PASS ] && ISOLATE="$ISOLATE $prec"
    done
  done
  # a failure with the features on: which feature? each alone, in the precisions that failed
  for prec in $ISOLATE; do
    extra=(); [ "$prec" = fp16 ] && extra=(--precision fp16)
    for f in attentionGemm fastKernels convIm2col convGraph graphs; do
      run_step "golden-check $prec only $f" "$T_GOLDEN" "$GOLDENLOG" "$JAVA" "${JOPTS[@]}" -Dautodir.cuda.$f=true \
          -jar "$WORK/autodir.jar" golden-check "$GOLDEN_DIR" --backend cuda "${extra[@]}"
      record "golden-check cuda $prec only $f" "$STATUS" "$SECS" "$(grep -E 'passed, ' "$GOLDENLOG" | tail -1)"
    done
  done
else
  echo "golden-check: SKIPPED (the jar has no golden-check command, or no golden set)" >>"$GOLDENLOG"
  record "golden-check cuda" "SKIPPED" 0 "no golden-check command in the jar"
fi

# ---- compiled networks as CUDA graphs (Features.graphs): against eager, lifetimes, times, the cpu backend ---------
PAR=$OUT/golden.log
run_step "compiled networks 512" "${T_COMPILED:-150}" "$PAR" "$JAVA" "${JOPTS[@]}" -cp "$CP" dev.autodir.backend.cuda.CompiledNetworkCheck 512
record "compiled networks (graphs)" "$STATUS" "$SECS" "$(grep -cE '^COMPILED .* PASS' "$PAR") pass, $(grep -cE '^COMPILED .* FAIL' "$PAR") fail"

# ---- the unverified Features at the networks' real sizes (set A's tiny model never reaches some of them) ---
run_step "feature parity 512" "${T_PARITY:-120}" "$PAR" "$JAVA" "${JOPTS[@]}" -cp "$CP" dev.autodir.backend.cuda.FeatureParity 512
record "feature parity (real sizes)" "$STATUS" "$SECS" "$(grep -cE '^PARITY .* PASS$' "$PAR") pass, $(grep -cE '^PARITY .* FAIL' "$PAR") fail"

# ---- benchmarks ----------------------------------------------------------------------------------------
CB=$OUT/cudabench.log
mode=full; (( BUDGET - $(elapsed) < 150 )) && mode=quick
run_step "cudabench ($mode)" "$T_CUDABENCH" "$CB" "$JAVA" "${JOPTS[@]}" -cp "$CP" dev.autodir.backend.cuda.CudaBench "$mode"
record "CudaBench ($mode)" "$STATUS" "$SECS" "$(grep -c ' ms ' "$CB") timings"

TB=$OUT/torch.log
run_step torch "$T_TORCH" "$TB" env PYTHONUNBUFFERED=1 python3 benchmarks/gpu/torch_bench.py --iters 10
record "torch_bench fp16" "$STATUS" "$SECS" "$(grep -c 'median' "$TB") timings"

BL=$OUT/bench.log
if has_command bench; then
  # each network with the unverified Features off and on, side by side in one call (same machine, same warm state)
  for prec in $BENCH_PRECISIONS; do
    for net in $BENCH_NETWORKS; do
      prof=(); case "$net" in unet|vae-decode|scm) prof=(--profile);; esac
      for feat in off on; do
        run_step "bench $net $prec features $feat" "$T_BENCH" "$BL" "$JAVA" "${JOPTS[@]}" \
            -Dautodir.cuda.unverified=$([ $feat = on ] && echo true || echo false) \
            -jar "$WORK/autodir.jar" bench --network "$net" --backend cuda --precision "$prec" --warmup 3 --runs 20 "${prof[@]}"
        record "bench $net $prec feat $feat" "$STATUS" "$SECS" "$(grep -E '^median' "$BL" | tail -1 | cut -c1-90)"
      done
    done
  done
else
  echo "bench: SKIPPED (the jar has no bench command)" >>"$BL"
  record "bench (lead's CLI)" "SKIPPED" 0 "no bench command in the jar"
fi

# ---- the per-step latency guard, GPU form: UNet step, VAE decode, SCM at 512 (FP16) over a cuBLAS sgemm calibration ----
# Written without a GPU: never run yet. Without a committed benchmarks/latency-guard/cuda-baseline.json it first
# measures GUARD_RUNS (3) runs in separate JVMs and makes a baseline of them (LatencyGuard --make-baseline; printed
# into bench.log between "===== cuda-baseline.json" lines, to be committed); then, against the baseline, one plain
# run (should pass) and one with a planted 20% UNet slowdown (-Dautodir.guard.plantedSlowdown=0.2: should fail,
# exit 1). T_GUARD (90 s) limits each run.
T_GUARD=${T_GUARD:-90}
GUARD=("$JAVA" "${JOPTS[@]}" -cp "$WORK/jmh-classes:$WORK/autodir.jar" dev.autodir.benchmarks.LatencyGuard)
GUARD_BASE=$ROOT/benchmarks/latency-guard/cuda-baseline.json
if [ -d "$WORK/jmh-classes" ]; then
  if [ ! -f "$GUARD_BASE" ]; then
    runs=()
    for i in $(seq 1 "${GUARD_RUNS:-3}"); do
      run_step "latency guard cuda run $i (baseline)" "$T_GUARD" "$BL" "${GUARD[@]}" --backend cuda --baseline none --out "$WORK/guard-$i.json"
      [ "$STATUS" = PASS ] && runs+=("$WORK/guard-$i.json")
      grep -h -A4 '"ratios"' "$WORK/guard-$i.json" >>"$BL" 2>/dev/null
    done
    GUARD_BASE=""
    if (( ${#runs[@]} >= 3 )) &&
       "${GUARD[@]}" --make-baseline "$WORK/cuda-baseline.json" --machine "${GPU:-unknown GPU} (gpu-check.sh, $(date -u +%F))" "${runs[@]}" >>"$BL" 2>&1; then
      GUARD_BASE=$WORK/cuda-baseline.json
      { echo "===== cuda-baseline.json (commit as benchmarks/latency-guard/cuda-baseline.json)"; cat "$GUARD_BASE"; echo "===== end of cuda-baseline.json"; } >>"$BL"
    fi
    record "latency guard cuda baseline" "$([ -n "$GUARD_BASE" ] && echo MADE || echo FAILED)" 0 "${#runs[@]} runs"
  fi
  if [ -n "$GUARD_BASE" ]; then
    run_step "latency guard cuda" "$T_GUARD" "$BL" "${GUARD[@]}" --backend cuda --baseline "$GUARD_BASE" --out "$WORK/guard-check.json"
    record "latency guard cuda" "$STATUS" "$SECS" "$(grep -E '^latency guard: (passed|FAILED)' "$BL" | tail -1 | cut -c1-90)"
    run_step "latency guard cuda planted +20% unet" "$T_GUARD" "$BL" "$JAVA" "${JOPTS[@]}" -Dautodir.guard.plantedSlowdown=0.2 \
        -cp "$WORK/jmh-classes:$WORK/autodir.jar" dev.autodir.benchmarks.LatencyGuard --backend cuda --baseline "$GUARD_BASE" --out "$WORK/guard-planted.json"
    record "guard planted +20% (must FAIL)" "$STATUS" "$SECS" "$(grep -E '^latency guard: (passed|FAILED)' "$BL" | tail -1 | cut -c1-90)"
  fi
else
  record "latency guard cuda" "SKIPPED" 0 "no jmh-classes in the payload"
fi

# ---- one automatic pass at 512x512 with full-size random weights, 20 steps, all stages on cuda ----------------
PL=$OUT/bench.log
for prec in ${PIPELINE_PRECISIONS:-fp16}; do
  for feat in off on; do
    run_step "pipeline 512 $prec features $feat" 90 "$PL" "$JAVA" "${JOPTS[@]}" -Dautodir.cuda.unverified=$([ $feat = on ] && echo true || echo false) \
        -cp "$CP" dev.autodir.analysis.PipelineTiming synthetic 512 20 1 cuda "$prec"
    record "pipeline 512 $prec feat $feat" "$STATUS" "$SECS" "$(grep -E '^wall time' "$PL" | tail -1 | cut -c1-80)"
  done
done

# ---- summary --------------------------------------------------------------------------------------------
{
  echo
  echo "================ gpu-check summary ($(elapsed)s of a ${BUDGET}s budget) ================"
  printf '%-30s %-12s %6s  %s\n' step status time detail
  for line in "${SUMMARY[@]}"; do echo "$line"; done
  echo
  echo "---- golden-check (FAIL rows and totals) ----"
  grep -E 'FAIL|passed, .* failed|^golden-check' "$GOLDENLOG" 2>/dev/null | head -30 | cut -c1-200
  echo
  echo "---- compiled networks (CUDA graphs against eager; FP32 against cpu) ----"
  grep -E '^COMPILED' "$PAR" 2>/dev/null | cut -c1-260 | head -80
  echo
  echo "---- feature parity (FP32 off is the reference) ----"
  grep -E '^PARITY' "$PAR" 2>/dev/null
  echo
  echo "---- cuda int8 / fp8 (CudaQuantCheck; CudaQuantizedOpsTest's QUANT lines are in tests.log) ----"
  grep -hE '^QUANT' "$OUT/bench.log" "$TESTS" 2>/dev/null | cut -c1-300 | head -20
  echo
  echo "---- tensorrt ----"
  grep -E '^TRT |^tensorrt: ' "$TRTLOG" 2>/dev/null | head -40
  echo
  echo "---- bench (engine, cuda) ----"
  grep -vE '^=====|WARNING|^\[' "$BL" 2>/dev/null | head -150
  echo
  echo "---- failing tests (first 25) ----"
  grep -F '[X]' "$TESTS" 2>/dev/null | head -25 | cut -c1-300
  echo
  echo "---- CudaBench (median ms) ----"
  sed -n '/^op  *impl/,$p' "$CB" 2>/dev/null | head -60
  grep -E '^conv .* fastest' "$CB" 2>/dev/null
  echo
  echo "---- PyTorch fp16 (median ms) ----"
  sed -n '/--- torch fp16 medians/,$p' "$TB" 2>/dev/null | head -40
} > "$OUT/summary.txt"
cat "$OUT/summary.txt"
