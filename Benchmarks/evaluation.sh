#!/usr/bin/env bash
# Cityscapes instance AP: ours (results-format files, and the in-memory RLE path)
# against the official cityscapesScripts evaluation on the same files: 100
# frames of 2048x1024 with 20 ground-truth instances and 100 predicted masks
# each (8-bit gray 0/255 PNGs, as Detectron2 writes them).
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh
IMAGES=${IMAGES:-100}
DATA=bench-data/evaluation-$IMAGES
RUNS=${RUNS:-3}
generated "$DATA" "$IMAGES frames with 100 prediction masks each" "$BIN/synmix-bench" evaluation-data --out "$DATA" --images "$IMAGES"
field() { sed -E "s/.*\"$1\": ([0-9.]+).*/\1/"; }
libpng=$(for r in $(seq $RUNS); do "$BIN/synmix-bench" decode-floor --libpng-only --root "$DATA" --under results --suffix .png | field seconds; done | median)
direct=$(for r in $(seq $RUNS); do "$BIN/synmix-bench" decode-floor --root "$DATA" --under results --suffix .png | field seconds; done | median)
ours=(); rss=()
for r in $(seq $RUNS); do
  /usr/bin/time -f "%e %M" -o "$DATA/time" "$BIN/train-shards" evaluate --cityscapes-gt "$DATA" --predictions "$DATA/results" >/dev/null
  read -r s kb < "$DATA/time"; ours+=("$s"); rss+=("$kb")
done
ours_t=$(printf '%s\n' "${ours[@]}" | median); ours_rss=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
memory=$(for r in $(seq $RUNS); do "$BIN/synmix-bench" evaluate-in-memory --root "$DATA" | field seconds; done | median)
/usr/bin/time -f "%e %M" -o "$DATA/time" "$PY" Tests/interop/cityscapes_eval.py "$DATA" > "$DATA/official.json"
read -r official_t official_rss < "$DATA/time"
{
  echo "| what | time | vs. official |"
  echo "|---|---:|---:|"
  awk -v t="$official_t" -v m="$official_rss" 'BEGIN { printf "| official cityscapesScripts (1 core), peak %.0f MiB | %.2f s | 1× |\n", m / 1024, t }'
  awk -v t="$libpng" -v o="$official_t" 'BEGIN { printf "| decode the masks only, libpng (floor) | %.2f s | %.1f× |\n", t, o / t }'
  awk -v t="$direct" -v o="$official_t" 'BEGIN { printf "| decode the masks only, synmix (libdeflate) | %.2f s | %.1f× |\n", t, o / t }'
  awk -v t="$ours_t" -v o="$official_t" -v m="$ours_rss" 'BEGIN { printf "| train-shards evaluate (results format, 2 cores), peak %.0f MiB | %.2f s | %.1f× |\n", m / 1024, t, o / t }'
  awk -v t="$memory" -v o="$official_t" 'BEGIN { printf "| in-memory RLE evaluation (1 core) | %.3f s | %.0f× |\n", t, o / t }'
  echo
  echo "$IMAGES frames of 2048×1024, 20 GT instances and 100 predicted masks each, $(nproc) cores; APs agree: official $(field allAp < "$DATA/official.json" | cut -c1-10)."
} | tee bench-data/evaluation.md
