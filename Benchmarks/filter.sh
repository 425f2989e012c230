#!/usr/bin/env bash
# filter-instances throughput (records/s) on a 25 000-line synthetic manifest,
# and peak RSS for 5 000 vs 25 000 lines (streaming: it must be flat).
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh
DATA=bench-data/synscapes-100
RUNS=${RUNS:-3}

generated "$DATA" "100 Synscapes-layout frames of 1440x720" "$BIN/synmix-generate" synscapes --out "$DATA" --count 100 --seed 11 --objects 20-30 --png-level 1
work=bench-data/filter
mkdir -p "$work"
"$BIN/harmonize" --dataset synscapes --root "$DATA" --out "$work/harmonized" >/dev/null
# Self-contained records: repeat the 100 harmonized ones under new ids.
for n in 5000 25000; do
  awk -v n="$n" '{ line[NR] = $0 } END {
      for (i = 1; i <= n; i++) { l = line[(i - 1) % NR + 1]; sub(/"id":"synscapes\/[0-9]+"/, "\"id\":\"synscapes/" i "\"", l); print l } }' \
    "$work/harmonized/manifest.jsonl" > "$work/manifest-$n.jsonl"
done

{
  echo "| manifest lines | size | filter-instances | records/s | peak RSS |"
  echo "|---:|---:|---:|---:|---:|"
  for n in 5000 25000; do
    times=(); rss=()
    for r in $(seq $RUNS); do
      /usr/bin/time -f "%e %M" -o "$work/time" "$BIN/filter-instances" --in "$work/manifest-$n.jsonl" --out "$work/out-$n" >/dev/null
      read -r seconds kb < "$work/time"
      times+=("$seconds"); rss+=("$kb")
    done
    t=$(printf '%s\n' "${times[@]}" | median)
    peak=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
    size=$(du -m "$work/manifest-$n.jsonl" | cut -f1)
    awk -v n="$n" -v t="$t" -v p="$peak" -v s="$size" 'BEGIN { printf "| %d | %d MB | %.2f s | %.0f | %.0f MiB |\n", n, s, t, n / t, p / 1024 }'
  done
  echo
  echo "Default thresholds, policy ignore, 1440×720 records with ~$(awk -F'"iscrowd"' '{ s += NF - 1 } END { printf "%.0f", s / NR }' "$work/harmonized/manifest.jsonl") instances each, one process on $(nproc) cores, median of $RUNS runs."
} | tee bench-data/filter.md
