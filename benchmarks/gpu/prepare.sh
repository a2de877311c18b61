#!/usr/bin/env bash
# Prepares .device/ (git-ignored) for ONE call of benchmarks/gpu-check.sh on the lent GPU machine, which has
# no Java, no Maven and no network. Run it here, from any directory, after merging what should be checked:
#
#   benchmarks/gpu/prepare.sh            # then: run command "bash benchmarks/gpu-check.sh", carry [".device"]
#
# .device/payload.tar.xz holds: a Temurin 25 jlink runtime (jre/), the shaded jar without the CUDA libraries
# the engine never loads (autodir.jar, stored uncompressed so xz does the compressing), the test classes, the
# JUnit console launcher, and the golden fixtures of set A (golden/A). Everything that travels — the working
# tree plus .device — must stay under 64 MiB; the sizes are printed at the end and checked.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
JDK25=${JDK25:-/usr/lib/jvm/temurin-25-jdk-amd64}
GOLDEN=${GOLDEN:-$ROOT/../shared/golden/A}
JUNIT_CONSOLE=${JUNIT_CONSOLE:-1.14.1}     # matches junit-jupiter 5.14.1 (platform 1.14.1)
STAGE=$ROOT/target/device-stage
LIMIT=$((64 * 1024 * 1024))

echo "== build: jar (with fatbins when nvcc is present) and test classes"
mvn -B -q package -DskipTests
mvn -B -q test-compile
test -f target/autodir.jar || { echo "target/autodir.jar missing after mvn package" >&2; exit 1; }
ls target/classes/dev/autodir/cuda/*.fatbin >/dev/null 2>&1 || echo "WARNING: no fatbins (nvcc absent?): the device will compile every kernel with NVRTC"

rm -rf "$STAGE"
mkdir -p "$STAGE/payload" "$STAGE/jar"

echo "== device jar: drop the JavaCPP CUDA libraries the engine never loads"
(cd "$STAGE/jar" && unzip -q "$ROOT/target/autodir.jar")
removed=0
for pattern in 'libjninpp*' 'libjnicufft*' 'libjnicusolver*' 'libjnicusparse*' 'libjninvcomp*' 'libjnicupti*' \
               'libjninccl*' 'libjninvml*' 'libjninvjpeg*' 'libjnicufile*' 'libjnicurand*' 'libjninvblas*'; do
  for f in "$STAGE"/jar/org/bytedeco/cuda/linux-x86_64/$pattern; do
    [ -e "$f" ] && { rm -f "$f"; removed=$((removed + 1)); }
  done
done
rm -rf "$STAGE"/jar/org/bytedeco/openblas/linux-x86_64/include
# ONNX Runtime's CPU libraries (the onnxruntime backend; not checked on the device): 50 MB the payload cannot carry
rm -rf "$STAGE"/jar/ai/onnxruntime/native
echo "removed $removed native libraries, the OpenBLAS headers and ONNX Runtime's native libraries"
# stored, not deflated (xz compresses the whole payload better); the manifest first, as jar tools expect
(cd "$STAGE/jar" && zip -q -0 -r "$STAGE/payload/autodir.jar" META-INF && zip -q -0 -r "$STAGE/payload/autodir.jar" . -x 'META-INF/*')

echo "== test classes and the JUnit console launcher $JUNIT_CONSOLE"
cp -r target/test-classes "$STAGE/payload/test-classes"
mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact=org.junit.platform:junit-platform-console-standalone:$JUNIT_CONSOLE -DoutputDirectory="$STAGE/dl"
cp "$STAGE"/dl/junit-platform-console-standalone-*.jar "$STAGE/payload/junit-console.jar"

echo "== Java runtime (jlink, Temurin 25)"
"$JDK25/bin/jlink" --add-modules java.base,jdk.unsupported,jdk.incubator.vector,java.desktop,java.logging,java.xml,java.management,jdk.management \
    --strip-debug --no-man-pages --no-header-files --compress=zip-0 --output "$STAGE/payload/jre"

echo "== golden fixtures: $GOLDEN"
if [ -d "$GOLDEN" ]; then
  mkdir -p "$STAGE/payload/golden"
  cp -r "$GOLDEN" "$STAGE/payload/golden/A"
else
  echo "WARNING: $GOLDEN not found: golden checks will be skipped on the device"
fi

echo "== pack"
mkdir -p "$ROOT/.device"
rm -f "$ROOT/.device/payload.tar.xz"
tar -C "$STAGE/payload" -cf - . | xz -9 -T2 > "$ROOT/.device/payload.tar.xz"

echo "== sizes (bytes)"
for part in jre autodir.jar test-classes junit-console.jar golden; do
  [ -e "$STAGE/payload/$part" ] && printf '  %-20s %12s unpacked\n' "$part" "$(du -sb "$STAGE/payload/$part" | cut -f1)"
done
payload=$(stat -c %s "$ROOT/.device/payload.tar.xz")
device=$(du -sb "$ROOT/.device" | cut -f1)
tree=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}')
printf '  %-20s %12s\n' "payload.tar.xz" "$payload" ".device total" "$device" "working tree" "$tree"
total=$((device + tree))
printf '  %-20s %12s of %s allowed\n' "travels" "$total" "$LIMIT"
if [ "$total" -gt "$LIMIT" ]; then
  echo "TOO LARGE: drop something (e.g. GOLDEN=<copy without weights*.ckpt>) and rerun" >&2
  exit 1
fi
echo "ready: run command \"bash benchmarks/gpu-check.sh\" with carry [\".device\"]"
