#!/bin/bash
# Times `bench` of two arms interleaved in one session (A B B A per network; A B with ORDER=AB; B alone with
# ORDER=B, to add a backend to a session), so both see the same machine state. An arm is ROOT or ROOT@BACKEND:
# a checkout with target/autodir.jar built, and the backend to bench (default cpu). Two uses:
#   the cpu backend before and after a change:  bench-ab.sh /tmp/before /work/main 512 3 unet vae-decode scm
#   two backends of one build:                  bench-ab.sh .@cpu .@onnxruntime 512 3 unet vae-encode ...
# Run it under the heavy lock on a quiet machine:
#   flock /tmp/autodir-heavy.lock bash benchmarks/bench-ab.sh A B [SIZE] [RUNS] [NETWORK...]
# Prints one line per bench call (arm, network, median/min/max, first run, peak RSS, load average before the call);
# a call whose backend fell back (or failed) says so instead of passing for the backend asked for.
# Extra JVM options for both arms: JDK_JAVA_OPTIONS (e.g. -Dautodir.onnx.cache=DIR to reuse ONNX exports).
set -u
a=$1 b=$2 size=${3:-512} runs=${4:-3}
shift 4 2>/dev/null || shift $#
nets=("$@"); [ ${#nets[@]} -eq 0 ] && nets=(unet vae-decode scm)
order=${ORDER:-ABBA}
one() {
  local arm=$1 net=$2 root backend log load
  root=${arm%@*}; backend=cpu; [[ $arm == *@* ]] && backend=${arm##*@}
  log=$(mktemp)
  load=$(cut -d' ' -f1 /proc/loadavg)
  local strict=(); [ "$backend" = cpu ] || strict=(--strict-backend)   # (builds before issue 9 lack the flag)
  /usr/bin/time -v "$root/bin/autodir" bench --network "$net" --size "$size" --runs "$runs" --backend "$backend" \
    "${strict[@]}" >"$log" 2>&1
  local med first rss
  med=$(grep -o 'median .*runs)' "$log")
  first=$(grep -o 'first run [0-9.]* ms' "$log" | cut -d' ' -f3)
  rss=$(awk '/Maximum resident/ {printf "%.2f GB", $6/1048576}' "$log")
  printf '%-22s %-11s %s  first %s ms  rss %s  load %s\n' "$(basename "$(cd "$root" && pwd)")@$backend" "$net" \
    "${med:-FAILED: $(grep -v '^\s' "$log" | grep -m1 -i 'autodir:\|error\|exception' || tail -1 "$log")}" "${first:-?}" "$rss" "$load"
  rm -f "$log"
}
echo "# $(date -Is) $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), size $size, runs $runs, order $order"
for net in "${nets[@]}"; do
  if [ "$order" = AB ]; then one "$a" "$net"; one "$b" "$net"
  elif [ "$order" = B ]; then one "$b" "$net"
  else one "$a" "$net"; one "$b" "$net"; one "$b" "$net"; one "$a" "$net"; fi
done
