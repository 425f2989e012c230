#!/usr/bin/env bash
# The training loader where `make demo` runs it: two `train-shards fit` side by side on 2 cores, one
# thread each, batch 4 at 192x96 from PNG shards of 400 frames (the demo's sizes) — decoding every sample
# every epoch (--cache-mib 0) against keeping decoded samples across epochs (the default). Same shards,
# seeds and steps; the runs must train on the same values, so their losses must be identical.
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh
STEPS=${STEPS:-1500}
RUNS=${RUNS:-3}
DATA=bench-data/loader-frames-400
work=bench-data/loader
generated "$DATA" "400 Cityscapes-layout frames of 512x256" "$BIN/synmix-generate" cityscapes --out "$DATA" --count 400 --seed 5 --width 512 --height 256 --look demo --city loaderbench
rm -rf "$work" && mkdir -p "$work"
"$BIN/harmonize" --dataset cityscapes --root "$DATA" --out "$work/manifest" >/dev/null
"$BIN/pack-mix" --real "$work/manifest" --max-size 192x96 --image-format png --shard-samples 100 --out "$work/shards" >/dev/null

fit() {  # fit OUT SEED CACHE_MIB: one lane, its CPU seconds (user + system) in OUT.cpu
  /usr/bin/time -f "%U %S" -o "$1.time" "$BIN/train-shards" fit --train "$work/shards/mix-*.tar" --out "$1" --steps "$STEPS" \
    --batch 4 --input-size 192x96 --width 16 --lr 0.012 --seed "$2" --jobs 1 --log-every "$STEPS" --checkpoint-every "$STEPS" \
    --cache-mib "$3" >/dev/null
  awk '{print $1 + $2}' "$1.time" > "$1.cpu"
}
# Interleaved: each repetition times both settings, two lanes each.
for r in $(seq "$RUNS"); do
  for cache in 0 512; do
    start=$(date +%s.%N)
    fit "$work/a-$cache-$r" 1 "$cache" & fit "$work/b-$cache-$r" 2 "$cache"; wait
    echo "$(date +%s.%N) - $start" | bc > "$work/wall-$cache-$r"
  done
  cmp -s <(grep -o '"loss":[^,]*' "$work/a-0-$r/metrics.json") <(grep -o '"loss":[^,]*' "$work/a-512-$r/metrics.json") \
    || { echo "the losses differ with and without the cache (run $r)" >&2; exit 1; }
done
walls() { for r in $(seq "$RUNS"); do cat "$work/wall-$1-$r"; done; }
cpu() { for r in $(seq "$RUNS"); do awk -v s="$STEPS" '{print 1000 * $1 / (4 * s)}' "$work/a-$1-$r.cpu" "$work/b-$1-$r.cpu"; done; }
{
  echo "| two lanes side by side, $STEPS steps of 4 at 192×96 each, median (min–max) of $RUNS | wall, s | CPU per image, ms |"
  echo "|---|---:|---:|"
  echo "| decoding every sample every epoch (\`--cache-mib 0\`) | $(walls 0 | spread %.1f) | $(cpu 0 | spread %.2f) |"
  echo "| decoded samples kept across epochs (default, 512 MiB) | $(walls 512 | spread %.1f) | $(cpu 512 | spread %.2f) |"
  echo
  echo "Losses identical step by step with and without the cache."
} | tee bench-data/loader.md
