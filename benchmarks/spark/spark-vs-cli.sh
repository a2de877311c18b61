#!/usr/bin/env bash
# The time of N images (default 20) through the Spark job in local[2] against the command line's batch, on this
# machine, with the tiny model of ../shared/golden/A and the same settings. Run from the repository root:
#   flock /tmp/autodir-heavy.lock benchmarks/spark/spark-vs-cli.sh [N] [STEPS]
# It builds the jars first (not timed), then times one run of each; each includes its JVM's start-up.
set -euo pipefail
n="${1:-20}"; steps="${2:-20}"
root="$(pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
weights="$root/../shared/golden/A/weights.safetensors"; config="$root/configs/golden-A.yaml"

# n different images (a seeded colour pattern plus noise, 64x64 PNG)
/usr/bin/python3 - "$work/in" "$n" <<'PY'
import math, os, random, struct, sys, zlib
out, n = sys.argv[1], int(sys.argv[2]); os.makedirs(out)
def png(path, w, h, rgb):
    raw = b''.join(b'\0' + rgb[3*w*y:3*w*(y+1)] for y in range(h))
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
                           + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
for i in range(n):
    r = random.Random(i); fx, fy = 0.1 + 0.3 * r.random(), 0.1 + 0.3 * r.random()
    px = bytes(max(0, min(255, int(127.5 + 100 * math.sin(fx * x + fy * y + 2.1 * c) + r.gauss(0, 25))))
               for y in range(64) for x in range(64) for c in range(3))
    png(os.path.join(out, 'img%02d.png' % i), 64, 64, px)
PY

mvn -q -B -o -f all/pom.xml package -DskipTests dependency:build-classpath -Dmdep.includeScope=compile \
  -Dmdep.outputFile=target/classpath.txt > /dev/null

jvm=(-XX:MaxRAMPercentage=75 -XX:+UseSerialGC -XX:PretenureSizeThreshold=4m)
t0=$(date +%s.%N)
AUTODIR_JAVA_OPTS="${jvm[*]}" bin/autodir restore "$work/in" --weights "$weights" --config "$config" --steps "$steps" -o "$work/cli" -q > "$work/cli.txt"
t1=$(date +%s.%N)
echo "cli batch:        $n images, --steps $steps: $(echo "$t1 - $t0" | bc) s; per image (restore + write): $(
  sed -n 's/.*(\([0-9]*\) pass.*; \([0-9.]*\) s)$/\1 \2/p' "$work/cli.txt" | awk '{p+=$1; t+=$2} END {printf "%d passes, %.1f s in all", p, t}')"

cp="$(cat spark/target/classpath.txt)"
opens="$(sed -n 's/.*<spark.jvm.args>\(.*\)<\/spark.jvm.args>.*/\1/p' spark/pom.xml)"
t0=$(date +%s.%N)
# shellcheck disable=SC2086
java $opens "${jvm[@]}" -Dspark.master='local[2]' -Dspark.ui.enabled=false -cp "spark/target/autodir-spark.jar:$cp" \
  dev.autodir.spark.RestoreJob --input "$work/in" --output "$work/spark" --weights "$weights" --config "$config" \
  --steps "$steps" --results-format json 2> "$work/spark.log"
t1=$(date +%s.%N)
grep "autodir-spark: run" "$work/spark.log" || { cat "$work/spark.log"; exit 1; }
echo "spark local[2]:   $n images, --steps $steps: $(echo "$t1 - $t0" | bc) s (JVM and Spark start-up included)"
cat "$work"/spark/autodir-results/*.json | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
print("spark per image (restore + write): %d passes, %.1f s in all" % (sum(r["passes"] for r in rows), sum(r["totalMs"] for r in rows) / 1000))'
echo "outputs: cli $(ls "$work/cli" | wc -l), spark $(ls "$work/spark" | grep -c _restored)"
