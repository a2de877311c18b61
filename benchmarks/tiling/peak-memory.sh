#!/usr/bin/env bash
# Runs a command and reports its wall time and peak memory: the kernel's peak resident set (ru_maxrss, from
# /usr/bin/time -v) and, sampled every second from /proc/PID/status, the peak of its anonymous part (heap, native
# buffers: what the process holds) and of its file-backed part (pages of a memory-mapped checkpoint, which the kernel
# drops under memory pressure). Usage: benchmarks/tiling/peak-memory.sh COMMAND ARGS...
set -euo pipefail
log=$(mktemp)
/usr/bin/time -v -o "$log" "$@" &
pid=$!
sleep 0.5
child=$(pgrep -P "$pid" | head -1 || true)
peak_anon=0; peak_file=0; peak_rss=0
while kill -0 "$pid" 2>/dev/null; do
  if [[ -n "$child" && -r /proc/$child/status ]]; then
    read -r anon file rss < <(awk '/^RssAnon/{a=$2} /^RssFile/{f=$2} /^VmRSS/{r=$2} END{print a+0, f+0, r+0}' /proc/$child/status 2>/dev/null || echo "0 0 0")
    (( anon > peak_anon )) && peak_anon=$anon
    (( file > peak_file )) && peak_file=$file
    (( rss > peak_rss )) && peak_rss=$rss
  fi
  sleep 1
done
wait "$pid" || status=$?
maxrss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$log")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$log")
printf 'wall %s  peak RSS %.2f GB (sampled: anonymous %.2f GB, file-backed %.2f GB)\n' "$wall" \
  "$(echo "$maxrss / 1048576" | bc -l)" "$(echo "$peak_anon / 1048576" | bc -l)" "$(echo "$peak_file / 1048576" | bc -l)" >&2
rm -f "$log"
exit "${status:-0}"
