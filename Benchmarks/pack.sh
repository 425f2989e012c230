#!/usr/bin/env bash
# pack-mix throughput: `keep` (copy the encoded images) against `cat` of the
# same files (the I/O floor) and SHA-256 of them (OpenSSL, the hashing floor), and JPEG
# re-encoding at --scale 0.5 against webdataset.ShardWriter in Python (raw bytes; PIL resize + JPEG).
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh
DATA=bench-data/cityscapes-photo-100
RUNS=${RUNS:-5}
work=bench-data/pack
# Sensor noise makes the PNGs photo-sized (~4 MB, like real leftImg8bit files).
generated "$DATA" "100 noisy 2048x1024 Cityscapes-layout frames" "$BIN/synmix-generate" cityscapes --out "$DATA" --count 100 --seed 3 --noise 6 --png-level 1 --city benchcity
rm -rf "$work" && mkdir -p "$work"
"$BIN/harmonize" --dataset cityscapes --root "$DATA" --out "$work/harmonized" >/dev/null
manifest="$work/harmonized/manifest.jsonl"
images=$(ls "$DATA"/leftImg8bit/train/benchcity/*.png | sort)
mb=$(du -cb $images | tail -1 | awk '{printf "%.1f", $1 / 1e6}')

# Each timed command starts with no dirty pages left by the one before (sync, untimed): otherwise
# whichever runs after a 434 MB write is throttled by its write-back, and cat varied 0.24–0.87 s.
timed() { local s; sync; s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }
concatenate() { cat $images > "$work/cat.out"; }
digest() { openssl dgst -sha256 $images; }
peer() { rm -rf "$work/$1"; mkdir -p "$work/$1"; sync; "$PY" Benchmarks/pack_peer.py "$manifest" "$work/$1/shard-%06d.tar" "$2" | sed -E 's/.*"seconds": ([0-9.]+).*/\1/'; }

# Interleaved rounds: each tool once per round, on the same files and cores.
: > "$work/rounds"
for r in $(seq $RUNS); do
  c=$(timed concatenate); rm -f "$work/cat.out"
  rm -rf "$work/keep"; k=$(timed "$BIN/pack-mix" --real "$manifest" --split all --out "$work/keep")
  pk=$(peer pykeep keep)
  rm -rf "$work/jpg"; j=$(timed "$BIN/pack-mix" --real "$manifest" --split all --out "$work/jpg" --image-format jpg --scale 0.5)
  pj=$(peer pyjpg jpg)
  h=$(timed digest)
  echo "$c $k $pk $j $pj $h" >> "$work/rounds"
done
column() { awk -v c="$1" '{print $c}' "$work/rounds"; }
ratio() { awk -v a="$1" -v b="$2" '{print $a / $b}' "$work/rounds"; }
cat_t=$(column 1 | median); keep_t=$(column 2 | median); py_keep_t=$(column 3 | median); jpg_t=$(column 4 | median); py_jpg_t=$(column 5 | median)
{
  echo "| what | time, s: median (min–max) | samples/s | MB/s of source images | ratio per round: median (min–max) |"
  echo "|---|---:|---:|---:|---|"
  awk -v t="$cat_t" -v mb="$mb" -v s="$(column 1 | spread %.2f)" 'BEGIN { printf "| cat of the image files (I/O floor) | %s | %.0f | %.0f | |\n", s, 100 / t, mb / t }'
  awk -v t="$(column 6 | median)" -v mb="$mb" -v s="$(column 6 | spread %.2f)" 'BEGIN { printf "| SHA-256 of the image files (openssl dgst, one core: the hashing floor) | %s | %.0f | %.0f | |\n", s, 100 / t, mb / t }'
  awk -v t="$keep_t" -v mb="$mb" -v s="$(column 2 | spread %.2f)" -v r="$(ratio 2 1 | spread %.2f)" -v p="$(ratio 2 3 | spread %.2f)" -v h="$(ratio 2 6 | spread %.2f)" \
    'BEGIN { printf "| pack-mix --image-format keep (copies and hashes) | %s | %.0f | %.0f | %s× cat; %s× SHA-256 alone; %s× ShardWriter |\n", s, 100 / t, mb / t, r, h, p }'
  awk -v t="$py_keep_t" -v mb="$mb" -v s="$(column 3 | spread %.2f)" 'BEGIN { printf "| Python ShardWriter, raw bytes | %s | %.0f | %.0f | |\n", s, 100 / t, mb / t }'
  awk -v t="$jpg_t" -v mb="$mb" -v s="$(column 4 | spread %.2f)" -v r="$(ratio 5 4 | spread %.1f)" \
    'BEGIN { printf "| pack-mix --image-format jpg --scale 0.5 | %s | %.0f | %.0f | %s× faster than Python |\n", s, 100 / t, mb / t, r }'
  awk -v t="$py_jpg_t" -v mb="$mb" -v s="$(column 5 | spread %.2f)" 'BEGIN { printf "| Python ShardWriter, PIL resize + JPEG | %s | %.0f | %.0f | |\n", s, 100 / t, mb / t }'
  echo
  echo "100 frames of 2048×1024 ($mb MB of PNGs, in the page cache), $(nproc) cores, $RUNS interleaved rounds, each command started after a sync; pack-mix uses all cores, the Python writer one process."
} | tee bench-data/pack.md
