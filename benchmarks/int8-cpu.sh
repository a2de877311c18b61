#!/bin/bash
# INT8 on the CPU, side by side in one session: for each network, the cpu backend (float32), the float32 ONNX export on
# ONNX Runtime and its INT8 QDQ export on ONNX Runtime, full-size random weights (the INT8 run calibrated on the
# bench's own inputs: random weights make any calibration image meaningless), then the INT8 output's deviation from
# cpu fp32 on the same inputs. Run it under the heavy lock on a quiet machine:
#   flock /tmp/autodir-heavy.lock bash benchmarks/int8-cpu.sh [SIZE] [RUNS] [NETWORK...]
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-512} runs=${2:-3}
shift 2 2>/dev/null || shift $#
nets=("$@"); [ ${#nets[@]} -eq 0 ] && nets=(unet vae-decode scm)
echo "# $(date -Is) $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), size $size, runs $runs"
for net in "${nets[@]}"; do
  for engine in cpu:fp32 onnxruntime:fp32 onnxruntime:int8; do
    b=${engine%%:*} p=${engine##*:}
    extra=(); [ "$p" = int8 ] && extra=(--calibration inputs)
    log=$(mktemp)
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -v "$root/bin/autodir" bench --network "$net" --size "$size" --runs "$runs" --backend "$b" --precision "$p" \
      --strict-backend "${extra[@]}" >"$log" 2>&1
    med=$(grep -o 'median .*runs)' "$log")
    dev=$(grep -o 'rel-L2 [0-9.e+-]*' "$log")
    rss=$(awk '/Maximum resident/ {printf "%.2f GB", $6/1048576}' "$log")
    printf '%-10s %-17s %s  rss %s  load %s %s\n' "$net" "$engine" "${med:-FAILED: $(grep autodir: "$log" | tail -1)}" "$rss" "$load" "${dev:+ $dev vs cpu fp32}"
    rm -f "$log"
  done
done
