#!/usr/bin/env bash
# harmonize throughput and peak memory on generated full-size Cityscapes-layout
# data, against (1) the floor: libpng decoding the same instanceIds PNGs on the
# same cores, and (2) the Python pipeline Detectron2 users run (PIL + numpy per
# instance + pycocotools.mask.encode, multiprocessing). Median of 3 runs each.
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh
DATA=bench-data/cityscapes-400
JOBS=${JOBS:-$(nproc)}
RUNS=${RUNS:-3}

# 60-75 objects per scene, of which nearer ones hide many: ~15 labelled instances per frame
# (Cityscapes train averages ~17.5 plus group regions).
generated "$DATA" "400 frames of 2048x1024 (about 15 labelled instances each)" "$BIN/synmix-generate" cityscapes --out "$DATA" --count 400 --seed 7 --objects 60-75 --city benchcity --png-level 6

json_field() { sed -E "s/.*\"$1\": ([0-9.]+).*/\1/"; }

results=$(mktemp)
for N in 100 400; do
  floor=$(for r in $(seq $RUNS); do "$BIN/synmix-bench" decode-floor --libpng-only --root "$DATA" --jobs "$JOBS" --limit "$N" | json_field seconds; done | median)
  direct=$(for r in $(seq $RUNS); do "$BIN/synmix-bench" decode-floor --root "$DATA" --jobs "$JOBS" --limit "$N" | json_field seconds; done | median)
  times=(); rss=()
  for r in $(seq $RUNS); do
    out=$(mktemp -d)
    /usr/bin/time -f "%e %M" -o "$out/time" "$BIN/harmonize" --dataset cityscapes --root "$DATA" --out "$out/h" \
      --jobs "$JOBS" --limit "$N" >/dev/null
    read -r seconds kb < "$out/time"
    times+=("$seconds"); rss+=("$kb")
    instances=$(grep -o '"instances": [0-9]*' "$out/h/summary.json" | tail -8 | awk '{s+=$2} END {print s}')
    rm -rf "$out"
  done
  ours=$(printf '%s\n' "${times[@]}" | median)
  peak=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
  python=$(for r in $(seq $RUNS); do
      # the peer has no --limit: give it a folder with exactly N label files
      tmp=$(mktemp -d)
      mkdir -p "$tmp/sub/gtFine/train/benchcity"
      ls "$DATA/gtFine/train/benchcity/"*_instanceIds.png | sort | head -n "$N" | xargs -I{} ln -s "$PWD/{}" "$tmp/sub/gtFine/train/benchcity/"
      "$PY" Tests/interop/cityscapes_reference.py "$tmp/sub" --jobs "$JOBS" | json_field seconds
      rm -rf "$tmp"
    done | median)
  echo "$N $floor $direct $ours $peak $python $instances" >> "$results"
done

{
  echo "| images | instances/image | decode only, libpng (floor) | decode only, synmix (libdeflate) | harmonize | harmonize ÷ libpng floor | peak RSS | Python (PIL+numpy+pycocotools) | harmonize speed-up |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  while read -r n floor direct ours peak python instances; do
    awk -v n="$n" -v f="$floor" -v d="$direct" -v o="$ours" -v p="$peak" -v py="$python" -v i="$instances" 'BEGIN {
      printf "| %d | %.1f | %.2f s (%.0f img/s) | %.2f s (%.0f img/s) | %.2f s (%.0f img/s) | %.2f | %.0f MiB | %.2f s (%.0f img/s) | %.1f× |\n",
        n, i / n, f, n / f, d, n / d, o, n / o, o / f, p / 1024, py, n / py, py / o }'
  done < "$results"
  echo
  echo "2048×1024 16-bit instanceIds PNGs, $JOBS jobs on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), median of $RUNS runs; harmonize time is the whole process (start-up, mappings, writing the manifest)."
} | tee bench-data/harmonize.md
rm -f "$results"
