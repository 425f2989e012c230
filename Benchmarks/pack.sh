#!/usr/bin/env bash
# pack-mix throughput: `keep` (copy the encoded images) against `cat` of the
# same files (the I/O floor), and JPEG re-encoding at --scale 0.5 against
# webdataset.ShardWriter in Python (raw bytes; PIL resize + JPEG). Median of 3.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.build/release
PY=.venv/bin/python
DATA=bench-data/cityscapes-photo-100
RUNS=${RUNS:-3}
work=bench-data/pack
if [ ! -f "$DATA/.complete" ]; then
  rm -rf "$DATA"
  echo "generating 100 noisy 2048x1024 Cityscapes-layout frames in $DATA ..."
  # Sensor noise makes the PNGs photo-sized (~4 MB, like real leftImg8bit files).
  "$BIN/synmix-generate" cityscapes --out "$DATA" --count 100 --seed 3 --noise 6 --png-level 1 --city benchcity >/dev/null
  touch "$DATA/.complete"
fi
rm -rf "$work" && mkdir -p "$work"
"$BIN/harmonize" --dataset cityscapes --root "$DATA" --out "$work/harmonized" >/dev/null
manifest="$work/harmonized/manifest.jsonl"
images=$(ls "$DATA"/leftImg8bit/train/benchcity/*.png | sort)
mb=$(du -cb $images | tail -1 | awk '{printf "%.1f", $1 / 1e6}')

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timed() { local s; s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }
concatenate() { cat $images > "$work/cat.out"; }

cat_t=$(for r in $(seq $RUNS); do timed concatenate; rm -f "$work/cat.out"; done | median)
keep_t=$(for r in $(seq $RUNS); do rm -rf "$work/keep"; timed "$BIN/pack-mix" --real "$manifest" --split all --out "$work/keep"; done | median)
jpg_t=$(for r in $(seq $RUNS); do rm -rf "$work/jpg"; timed "$BIN/pack-mix" --real "$manifest" --split all --out "$work/jpg" --image-format jpg --scale 0.5; done | median)
py_keep_t=$(for r in $(seq $RUNS); do rm -rf "$work/pykeep"; mkdir -p "$work/pykeep"; "$PY" Benchmarks/pack_peer.py "$manifest" "$work/pykeep/shard-%06d.tar" keep | sed -E 's/.*"seconds": ([0-9.]+).*/\1/'; done | median)
py_jpg_t=$(for r in $(seq $RUNS); do rm -rf "$work/pyjpg"; mkdir -p "$work/pyjpg"; "$PY" Benchmarks/pack_peer.py "$manifest" "$work/pyjpg/shard-%06d.tar" jpg | sed -E 's/.*"seconds": ([0-9.]+).*/\1/'; done | median)
{
  echo "| what | time | samples/s | MB/s of source images | vs. |"
  echo "|---|---:|---:|---:|---|"
  awk -v t="$cat_t" -v mb="$mb" 'BEGIN { printf "| cat of the image files (I/O floor) | %.2f s | %.0f | %.0f | |\n", t, 100 / t, mb / t }'
  awk -v t="$keep_t" -v c="$cat_t" -v mb="$mb" 'BEGIN { printf "| pack-mix --image-format keep | %.2f s | %.0f | %.0f | %.2f× cat |\n", t, 100 / t, mb / t, t / c }'
  awk -v t="$py_keep_t" -v mb="$mb" 'BEGIN { printf "| Python ShardWriter, raw bytes | %.2f s | %.0f | %.0f | |\n", t, 100 / t, mb / t }'
  awk -v t="$jpg_t" -v p="$py_jpg_t" -v mb="$mb" 'BEGIN { printf "| pack-mix --image-format jpg --scale 0.5 | %.2f s | %.0f | %.0f | %.1f× faster than Python |\n", t, 100 / t, mb / t, p / t }'
  awk -v t="$py_jpg_t" -v mb="$mb" 'BEGIN { printf "| Python ShardWriter, PIL resize + JPEG | %.2f s | %.0f | %.0f | |\n", t, 100 / t, mb / t }'
  echo
  echo "100 frames of 2048×1024 ($mb MB of PNGs, in the page cache), $(nproc) cores; pack-mix uses all of them, the Python writer one process."
} | tee bench-data/pack.md
