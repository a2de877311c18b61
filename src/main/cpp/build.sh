#!/usr/bin/env bash
# Builds the C API: libautodir.so and its header into OUTPUT_DIR (target/native: lib/libautodir.so, include/autodir.h).
# Usage: src/main/cpp/build.sh JAVA_HOME SOURCE_DIR OUTPUT_DIR
# Run by Maven at compile (exec plugin). Without a C compiler (cc, or $CC) or without the JDK's jni.h it prints a
# notice and builds nothing: the Java build goes on, and the C API test skips saying why. A compile error fails.
# The library links to no JVM: it opens libjvm.so at run time (JAVA_HOME), so one build serves every Java 17+.
set -euo pipefail
java_home="$1"; src="$2"; out="$3"
cc="${CC:-cc}"
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "src/main/cpp/build.sh: NOTICE: no C compiler ($cc) found; the C API (libautodir.so) is not built"
  exit 0
fi
if [[ ! -f "$java_home/include/jni.h" ]]; then
  echo "src/main/cpp/build.sh: NOTICE: $java_home/include/jni.h not found (a JRE, not a JDK?); the C API is not built"
  exit 0
fi
mkdir -p "$out/lib" "$out/include"
lib="$out/lib/libautodir.so"
if [[ -f "$lib" && "$lib" -nt "$src/autodir.c" && "$lib" -nt "$src/autodir.h" ]]; then exit 0; fi
"$cc" -std=c11 -O2 -g -fPIC -shared -fvisibility=hidden -Wall -Wextra -Werror -pthread \
  -I"$java_home/include" -I"$java_home/include/linux" -o "$lib.tmp" "$src/autodir.c" -ldl
mv "$lib.tmp" "$lib"
cp "$src/autodir.h" "$out/include/autodir.h"
echo "src/main/cpp/build.sh: built $lib"
