#!/usr/bin/env bash
# Fuzzes one target with Jazzer (coverage-guided, in process) until it has run EXECUTIONS inputs or DURATION passed:
#   benchmarks/fuzz.sh safetensors|torchZip|pickle|yamlConfig|imageFile [EXECUTIONS (default 1000000)] [DURATION (default 30m)]
# A finding (an exception other than the target's expected one, an Error, an input over its allocation bound or over 1 s)
# stops the run and is saved under src/test/resources/.../<Class>Inputs/<target>/, where every later `mvn test` replays it.
# Counters (executions, slowest input, most allocated) are written to target/fuzz-stats/<target>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?target: safetensors, torchZip, pickle, yamlConfig or imageFile}"
executions="${2:-1000000}"
duration="${3:-30m}"
case "$target" in
  safetensors|torchZip|pickle) test="CheckpointFuzzTest#$target" ;;
  yamlConfig) test="ConfigFuzzTest#$target" ;;
  imageFile) test="ImageHeaderFuzzTest#$target" ;;
  *) echo "fuzz.sh: unknown target $target" >&2; exit 2 ;;
esac
JAZZER_FUZZ=1 mvn -q -B test -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false \
  -Djazzer.max_executions="$executions" -Djazzer.max_duration="$duration" \
  -Djazzer.instrument='dev.autodir.**,org.apache.commons.compress.**,com.fasterxml.jackson.core.**,org.yaml.snakeyaml.**,com.twelvemonkeys.**'
cat target/fuzz-stats/*.txt 2>/dev/null | grep -i "$(echo "$target" | sed 's/torchZip/torch-zip/;s/yamlConfig/yaml-config/;s/imageFile/image/')" || true
